package sync

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/assent-app/assent/sync/api"
)

// ProblemError is an error answer of the server (RFC 9457 problem+json),
// the shared api.Problem.
type ProblemError = api.Problem

// ParseProblem reads an error response body (api.ParseProblem).
func ParseProblem(status int, body []byte) *ProblemError { return api.ParseProblem(status, body) }

func problemOf(resp *http.Response) *ProblemError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return ParseProblem(resp.StatusCode, b)
}

// tusClient speaks the parts of tus 1.0.0 assentd needs: creation, HEAD, PATCH.
type tusClient struct {
	base  string // server URL without trailing slash
	token string
	hc    *http.Client
	limit *limiter
	sent  *atomic.Int64 // PATCH body bytes put on the wire
}

const tusVersion = "1.0.0"

func (t *tusClient) req(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "Bearer "+t.token)
	r.Header.Set("Tus-Resumable", tusVersion)
	return r, nil
}

// EncodeMetadata renders tus Upload-Metadata (keys sorted, values base64).
func EncodeMetadata(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(m[k])))
	}
	return strings.Join(parts, ",")
}

// create opens an upload of size bytes and returns its id.
func (t *tusClient) create(ctx context.Context, size int64, meta map[string]string) (string, error) {
	r, err := t.req(ctx, http.MethodPost, t.base+"/v1/uploads/", nil)
	if err != nil {
		return "", err
	}
	r.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	r.Header.Set("Upload-Metadata", EncodeMetadata(meta))
	resp, err := t.hc.Do(r)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", problemOf(resp)
	}
	loc := resp.Header.Get("Location")
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	if id == "" {
		return "", errors.New("server created an upload without a Location; is the URL an assentd server?")
	}
	return id, nil
}

// head returns the server's offset of upload id.
func (t *tusClient) head(ctx context.Context, id string) (offset, length int64, err error) {
	r, err := t.req(ctx, http.MethodHead, t.base+"/v1/uploads/"+id, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := t.hc.Do(r)
	if err != nil {
		return 0, 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return 0, 0, &ProblemError{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
	}
	offset, err1 := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	length, err2 := strconv.ParseInt(resp.Header.Get("Upload-Length"), 10, 64)
	if err1 != nil || err2 != nil || offset < 0 || offset > length {
		return 0, 0, errors.New("server sent a HEAD answer without valid Upload-Offset/Upload-Length")
	}
	return offset, length, nil
}

// patch sends body (the bytes from offset on) and returns the new offset.
func (t *tusClient) patch(ctx context.Context, id string, offset int64, body io.Reader, n int64) (int64, error) {
	cr := &countingReader{r: body, limit: t.limit, ctx: ctx, sent: t.sent}
	r, err := t.req(ctx, http.MethodPatch, t.base+"/v1/uploads/"+id, cr)
	if err != nil {
		return 0, err
	}
	r.ContentLength = n
	r.Header.Set("Content-Type", "application/offset+octet-stream")
	r.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	resp, err := t.hc.Do(r)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return 0, problemOf(resp)
	}
	no, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		return 0, errors.New("server answered PATCH without Upload-Offset")
	}
	return no, nil
}

// countingReader counts bytes handed to the transport and applies the bandwidth cap.
type countingReader struct {
	r     io.Reader
	limit *limiter
	ctx   context.Context
	sent  *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if len(p) > 32<<10 {
		p = p[:32<<10]
	}
	if c.limit != nil && len(p) > c.limit.burst {
		p = p[:c.limit.burst] // one read never needs more than the burst
	}
	n, err := c.r.Read(p)
	if n > 0 {
		if c.limit != nil {
			if werr := c.limit.wait(c.ctx, n); werr != nil {
				return 0, werr
			}
		}
		c.sent.Add(int64(n))
	}
	return n, err
}

// jsonCall sends a JSON request and decodes a JSON answer into out (if non-nil).
func (t *tusClient) jsonCall(ctx context.Context, method, path string, in, out any, ok ...int) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	r, err := http.NewRequestWithContext(ctx, method, t.base+path, body)
	if err != nil {
		return 0, err
	}
	r.Header.Set("Authorization", "Bearer "+t.token)
	if in != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.hc.Do(r)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	for _, c := range ok {
		if resp.StatusCode == c {
			if out != nil {
				if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
					return resp.StatusCode, fmt.Errorf("server sent an unreadable answer to %s %s: %w", method, path, err)
				}
			}
			return resp.StatusCode, nil
		}
	}
	return resp.StatusCode, problemOf(resp)
}
