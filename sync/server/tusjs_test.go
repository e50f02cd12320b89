package server

import (
	"encoding/base64"
	"encoding/pem"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// npmDir is where scripts/npm-tools.sh installs the npm clients.
func npmDir(t *testing.T) string {
	if d := os.Getenv("ASSENT_NPM_DIR"); d != "" {
		return d
	}
	abs, _ := filepath.Abs("../../artifacts/npm")
	return abs
}

const tusJSUpload = `
const tus = require('tus-js-client');
const data = Buffer.from(process.env.SEG_B64, 'base64');
const up = new tus.Upload(data, {
  endpoint: process.env.ENDPOINT,
  headers: { Authorization: 'Bearer ' + process.env.TOKEN },
  metadata: { recording: process.env.REC, index: '1', sha256: process.env.SHA },
  uploadSize: data.length,
  chunkSize: 1000,
  retryDelays: [],
  onError: (e) => { console.error('tus-js-client error: ' + e); process.exit(1); },
  onSuccess: () => { console.log('uploaded ' + up.url); process.exit(0); },
});
up.start();
`

// A standard tus client (tus-js-client under node) uploads a segment
// through a TLS-terminating proxy: it follows the Location header exactly,
// so the upload URL must be the public https one, not assentd's own http.
func TestStandardTusClientThroughTLSProxy(t *testing.T) {
	dir := npmDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "tus-js-client", "package.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tus-js-client is not installed in %s: scripts/test.sh runs scripts/npm-tools.sh first", dir)
		}
		t.Skipf("tus-js-client is not installed in %s; run scripts/npm-tools.sh", dir)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: scripts/deps.sh test installs it")
	}
	for _, mode := range []string{"public-url", "forwarded-headers"} {
		t.Run(mode, func(t *testing.T) {
			// The proxy first (its URL is the public one), then assentd behind it.
			var backend *url.URL
			proxy := httptest.NewUnstartedServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(backend)
				r.SetXForwarded()
			}})
			proxy.StartTLS()
			defer proxy.Close()
			st, err := OpenSQLite(filepath.Join(t.TempDir(), "index.db"))
			if err != nil {
				t.Fatal(err)
			}
			h := newHarnessCfg(t, st, nil, func(c *Config) {
				if mode == "public-url" {
					c.PublicURL = proxy.URL
				} else {
					c.ForwardedHeaders = true
				}
			})
			backend, _ = url.Parse(h.ts.URL)
			d := h.enrol(1)
			h.fullRecordingRegisterOnly(d, "rec-js")
			data := segData("rec-js", 1)
			ca := filepath.Join(t.TempDir(), "proxy-ca.pem")
			os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o600)
			cmd := exec.Command(node, "-e", tusJSUpload)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"), "NODE_EXTRA_CA_CERTS="+ca,
				"ENDPOINT="+proxy.URL+"/v1/uploads/", "TOKEN="+d.token, "REC=rec-js", "SHA="+sum(data),
				"SEG_B64="+b64(data))
			done := make(chan struct{})
			var out []byte
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatal("tus-js-client did not finish in 60 s")
			}
			if err != nil {
				t.Fatalf("tus-js-client through the TLS proxy: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "uploaded "+proxy.URL+"/v1/uploads/") {
				t.Fatalf("tus-js-client used an upload URL that is not the public one: %s", out)
			}
			segs, _ := h.st.Segments(t.Context(), "rec-js")
			if len(segs) != 1 || segs[0].SHA256 != sum(data) {
				t.Fatalf("after tus-js-client: segments %+v", segs)
			}
		})
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
