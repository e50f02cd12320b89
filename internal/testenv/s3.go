package testenv

import (
	"os"
	"testing"
)

// S3 is a real S3-compatible server (versitygw, started by
// scripts/with-real-parts.sh) and its keys.
type S3 struct {
	Endpoint, AccessKey, SecretKey string
}

// RequireS3 needs a real S3-compatible server and returns where it is.
func RequireS3(t testing.TB) S3 {
	t.Helper()
	s := S3{Endpoint: os.Getenv("ASSENT_TEST_S3_ENDPOINT"), AccessKey: os.Getenv("ASSENT_TEST_S3_ACCESS_KEY"), SecretKey: os.Getenv("ASSENT_TEST_S3_SECRET_KEY")}
	need(t, s.Endpoint != "" && s.AccessKey != "" && s.SecretKey != "", "an S3-compatible server", "ASSENT_TEST_S3_ENDPOINT is empty")
	return s
}
