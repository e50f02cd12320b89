//go:build !unix

package audio

func withQuietStderr(f func()) { f() }
