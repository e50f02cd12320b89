package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Slow clients (headers or bodies trickling, or stalled) cannot hold the
// server's connections: each is cut off after its timeout, and a normal
// client is served again, even when the slow ones filled the connection cap.
func TestSlowClientsAreCutOff(t *testing.T) {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	srv, err := New(Config{Store: st, Objects: LocalObjects{Dir: filepath.Join(dir, "objects")}, UploadDir: filepath.Join(dir, "uploads"),
		AdminToken: testAdmin, SubjectSalt: []byte("0123456789abcdef-salt"), UploadReadTimeout: 500 * time.Millisecond, PolicyKey: testPolicyKey})
	if err != nil {
		t.Fatal(err)
	}
	limits := Limits{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: time.Second, MaxConns: 6}
	hs := srv.HTTPServer(limits)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(limits.Listen(ln))
	defer hs.Close()
	addr := ln.Addr().String()

	slow := []string{
		"POST /v1/enrol HTTP/1.1\r\nHost: x\r\n", // header never ends
		"POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"co", // body stalls
		"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
		"POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
		"POST /v1/admin/subjects/recordings HTTP/1.1\r\nHost: x\r\n",
		"PUT /v1/recordings/x/final HTTP/1.1\r\nHost: x\r\n",
	}
	var conns []net.Conn
	for _, s := range slow {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, s)
		conns = append(conns, c)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := io.Copy(io.Discard, c) // ends when the server closes the connection
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("slow connection %d (%q) still open after 20 s", i, strings.SplitN(slow[i], "\r\n", 2)[0])
		}
	}
	// The cap is free again: a normal request is served.
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("a normal client after the slow ones: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

// A tus PATCH body that stops sending is cut off after UploadReadTimeout,
// and what arrived stays for the client to resume from.
func TestStalledUploadBodyIsCutOffAndResumable(t *testing.T) {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessCfg(t, st, nil, func(c *Config) { c.UploadReadTimeout = 500 * time.Millisecond })
	d := h.enrol(3)
	h.fullRecordingRegisterOnly(d, "rec-stall")
	base := h.ts.URL
	addr := strings.TrimPrefix(base, "http://")
	data := segData("rec-stall", 1)
	req, _ := http.NewRequest("POST", base+"/v1/uploads/", nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", fmt.Sprint(len(data)))
	req.Header.Set("Upload-Metadata", meta(map[string]string{"recording": "rec-stall", "index": "1", "sha256": sum(data)}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	loc := resp.Header.Get("Location")
	path := loc[strings.Index(loc, "/v1/"):]
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n", path, d.token, len(data))
	conn.Write(data[:1000])
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := io.Copy(io.Discard, r); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("a stalled upload body held its connection for 20 s")
		}
	}
	req, _ = http.NewRequest("HEAD", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Upload-Offset") != "1000" {
		t.Fatalf("HEAD after the cut: %v %v offset %q, want 1000 to resume from", resp, err, resp.Header.Get("Upload-Offset"))
	}
}
