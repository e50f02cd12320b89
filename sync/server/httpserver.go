package server

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Limits are the connection-level protections of an assentd listener. A
// zero field takes the default named beside it.
type Limits struct {
	ReadHeaderTimeout time.Duration // whole request header; 10 s
	// ReadTimeout bounds reading a whole request (header and body) of every
	// endpoint except tus PATCH bodies, whose reads are bounded one at a time
	// by Config.UploadReadTimeout instead (a segment upload on a slow link is
	// long but never idle); 60 s.
	ReadTimeout    time.Duration
	IdleTimeout    time.Duration // keep-alive connections between requests; 2 min
	MaxHeaderBytes int           // 64 KiB
	MaxConns       int           // connections served at once (more wait in the kernel's backlog); 1024
}

func (l Limits) withDefaults() Limits {
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = 10 * time.Second
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = 60 * time.Second
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 2 * time.Minute
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.MaxConns <= 0 {
		l.MaxConns = 1024
	}
	return l
}

// HTTPServer is the one way assentd's API is served (cmd/assentd and the
// tests use it): the handler with the limits applied. Serve it on a
// listener from [Limits.Listen].
func (s *Server) HTTPServer(l Limits) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          nil,
	}
}

// Listen wraps ln so at most MaxConns connections are served at once.
func (l Limits) Listen(ln net.Listener) net.Listener {
	return netutil.LimitListener(ln, l.withDefaults().MaxConns)
}
