package server

import (
	"bytes"
	"net/http"
	"strings"
)

// tusProblems turns tusd's own error answers (text/plain "ERR_CODE: message")
// into application/problem+json, like every other error of the API, with a
// slug derived from tusd's code ("ERR_MISMATCHED_OFFSET" → "mismatched-offset")
// and a detail that says what to do. A 412 also carries Tus-Version. Answers
// that are already problems (our hooks' errors) and successes pass through.
func tusProblems(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &problemWriter{ResponseWriter: w, head: r.Method == http.MethodHead}
		next.ServeHTTP(pw, r)
		if pw.rewrite {
			pw.finish()
		}
	})
}

type problemWriter struct {
	http.ResponseWriter
	head    bool
	rewrite bool
	wrote   bool
	status  int
	buf     bytes.Buffer
}

func (p *problemWriter) WriteHeader(code int) {
	if p.wrote {
		return
	}
	p.wrote = true
	h := p.Header()
	if code >= 400 && !strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") {
		p.rewrite, p.status = true, code
		h.Set("Content-Type", "application/problem+json")
		h.Set("Cache-Control", "no-store")
		h.Del("Content-Length")
		if code == http.StatusPreconditionFailed {
			h.Set("Tus-Version", "1.0.0")
		}
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *problemWriter) Write(b []byte) (int, error) {
	if !p.wrote {
		p.WriteHeader(http.StatusOK)
	}
	if p.rewrite {
		return p.buf.Write(b)
	}
	return p.ResponseWriter.Write(b)
}

func (p *problemWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

var tusAdvice = map[int]string{
	http.StatusConflict:              "The Upload-Offset does not match what the server holds; send HEAD to learn the offset and PATCH from there.",
	http.StatusPreconditionFailed:    "Send the header Tus-Resumable: 1.0.0 (the only tus version this server speaks).",
	http.StatusRequestEntityTooLarge: "The segment is larger than this server accepts; seal shorter segments or ask the administrator to raise -max-segment-bytes.",
	http.StatusBadRequest:            "The tus request is not valid for this server (creation and termination only; Upload-Length required); see docs/server-api.md.",
	http.StatusNotFound:              "This device has no upload with this id; create a new one with POST /v1/uploads/.",
	http.StatusMethodNotAllowed:      "Uploads take POST (create), HEAD (offset), PATCH (bytes), DELETE (terminate) and OPTIONS.",
	http.StatusLocked:                "Another request is writing this upload right now; retry in a moment.",
}

func (p *problemWriter) finish() {
	text := strings.TrimSpace(p.buf.String())
	code, msg, ok := strings.Cut(text, ": ")
	if !ok {
		code, msg = "", text
	}
	slug := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(code, "ERR_"), "_", "-"))
	if slug == "" {
		slug = "upload-error"
	}
	if msg == "" {
		msg = http.StatusText(p.status)
	}
	title := strings.ToUpper(msg[:1]) + msg[1:]
	detail := tusAdvice[p.status]
	if detail == "" {
		detail = "The upload request failed on the server (" + msg + "). Retry later; the client resumes from the bytes the server holds."
		if p.status < 500 {
			detail = "The upload request was refused (" + msg + "); see docs/server-api.md."
		}
	}
	if p.head {
		return
	}
	p.ResponseWriter.Write(problemBody(p.status, slug, title, detail))
}
