package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBadInputGetsClearError_CLI(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "-data", dir, "-addr", "0.0.0.0:0"}, 1, "refusing plain HTTP"},
		{[]string{"serve", "-data", dir, "-tls-cert", "x.pem"}, 1, "give both -tls-cert and -tls-key"},
		{[]string{"serve", "-data", dir, "-addr", "nonsense"}, 1, "not host:port"},
		{[]string{"serve", "-data", dir, "-escrow-recipient", "ssh-ed25519 AAAA"}, 1, "age X25519 recipient"},
		{[]string{"serve", "-data", dir, "-db", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, 1, "connect to the database"},
		{[]string{"serve", "-no-such-flag"}, 2, "flag provided but not defined"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("assentd %v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errb.String(), c.code, c.want)
		}
	}
}

func TestEnrollPrintsOneTimeCode(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"enroll", "-data", dir}, &out, &errb); code != 0 {
		t.Fatalf("enroll: %d %s", code, errb.String())
	}
	code := strings.TrimSpace(out.String())
	if len(code) < 16 || strings.ContainsAny(code, " \n") {
		t.Fatalf("code %q", code)
	}
	db, _ := os.ReadFile(filepath.Join(dir, "index.db"))
	wal, _ := os.ReadFile(filepath.Join(dir, "index.db-wal"))
	if bytes.Contains(db, []byte(code)) || bytes.Contains(wal, []byte(code)) {
		t.Fatal("the enrolment code is stored in plaintext")
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "assentd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return
}

// buildAssentd builds this binary without cgo (as it ships) into dir.
func buildAssentd(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "assentd")
	b := exec.Command("go", "build", "-o", bin, ".")
	b.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := b.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 build: %v\n%s", err, out)
	}
	return bin
}

// TestServeTLSAndStopGracefully runs the real binary with a certificate:
// HTTPS answers, the admin token is printed once
// and kept only as a hash, and SIGTERM stops it with exit 0.
func TestServeTLSAndStopGracefully(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildAssentd(t, dir)
	cert, key, pool := selfSigned(t, dir)
	data := filepath.Join(dir, "data")
	cmd := exec.Command(bin, "serve", "-data", data, "-addr", "127.0.0.1:0", "-tls-cert", cert, "-tls-key", key)
	cmd.Env = append(os.Environ(), "ASSENTD_ADMIN_TOKEN=")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on https://") {
		t.Fatalf("no https listener: %q %v %s", line, err, stderr.String())
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("https healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, stderr.String())
	}
	// The generated admin token was shown once; only its hash is on disk.
	lines := strings.Split(stderr.String(), "\n")
	var token string
	for i, l := range lines {
		if strings.Contains(l, "generated the admin token") && i+1 < len(lines) {
			token = strings.TrimSpace(lines[i+1])
		}
	}
	h, _ := os.ReadFile(filepath.Join(data, "admin-token.sha256"))
	if len(token) < 16 || len(strings.TrimSpace(string(h))) != 64 || strings.Contains(string(h), token) {
		t.Fatalf("admin token %q / stored %q", token, h)
	}
	if strings.Count(stderr.String(), token) != 1 {
		t.Fatal("the admin token appears in the log more than once")
	}
}

func TestDeviceRevokeCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"device", "-data", dir, "revoke", "dev_unknown"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no device") {
		t.Fatalf("revoke unknown: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"device", "-data", dir}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage") {
		t.Fatalf("device without a verb: exit %d, %q", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"device", "-data", dir, "list"}, &out, &errb); code != 0 || out.Len() != 0 {
		t.Fatalf("list on a new server: exit %d, %q %q", code, out.String(), errb.String())
	}
}

func TestPolicyCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"policy", "show", "-data", dir}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "assentd policy set") {
		t.Fatalf("show without a policy: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"policy", "set", "-data", dir, "-contact", "privacy@acme.example"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "controller") {
		t.Fatalf("set without a controller: exit %d, %q", code, errb.String())
	}
	if code := run([]string{"policy", "set", "-data", dir, "-controller", "Acme BV", "-contact", "privacy@acme.example", "-retention-months", "12"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "version 1") {
		t.Fatalf("set: exit %d, %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"policy", "show", "-data", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Acme BV") || !strings.Contains(out.String(), `"RetentionMonths":12`) {
		t.Fatalf("show: exit %d, %q", code, out.String())
	}
	if fi, err := os.Stat(filepath.Join(dir, "policy-key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("policy key file: %v %v", fi, err)
	}
}
