package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// S3Objects keeps objects in an S3-compatible bucket (AWS S3, MinIO, Ceph,
// …), path-style (<endpoint>/<bucket>/<key>), signed with AWS Signature
// Version 4. Objects are buffered in memory for signing; segments are small.
type S3Objects struct {
	Endpoint  string // e.g. https://s3.eu-central-1.amazonaws.com or http://127.0.0.1:9000
	Bucket    string
	Region    string // e.g. eu-central-1 ("us-east-1" for most MinIO setups)
	AccessKey string
	SecretKey string
	Client    *http.Client
	Now       func() time.Time
}

func (s *S3Objects) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return http.DefaultClient
}

func (s *S3Objects) objectURL(key string) string {
	return strings.TrimRight(s.Endpoint, "/") + "/" + s.Bucket + "/" + uriEncode(key, false)
}

func (s *S3Objects) do(ctx context.Context, method, rawURL string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	SignV4(req, body, s.AccessKey, s.SecretKey, s.Region, "s3", now())
	return s.client().Do(req)
}

func s3Error(op, key string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	xml.Unmarshal(b, &e)
	return fmt.Errorf("S3 %s %s: %s %s %s", op, key, resp.Status, e.Code, e.Message)
}

// Put uploads the object with one PUT (atomic in S3).
func (s *S3Objects) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	resp, err := s.do(ctx, http.MethodPut, s.objectURL(key), body)
	if err != nil {
		return 0, fmt.Errorf("S3 put %s: %w", key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, s3Error("put", key, resp)
	}
	return int64(len(body)), nil
}

// Get downloads the object.
func (s *S3Objects) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	resp, err := s.do(ctx, http.MethodGet, s.objectURL(key), nil)
	if err != nil {
		return nil, fmt.Errorf("S3 get %s: %w", key, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, fmt.Errorf("object %s: %w", key, ErrNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, s3Error("get", key, resp)
	}
	return resp.Body, nil
}

// DeletePrefix lists the keys under prefix (ListObjectsV2) and deletes each.
func (s *S3Objects) DeletePrefix(ctx context.Context, prefix string) error {
	token := ""
	for {
		q := url.Values{"list-type": {"2"}, "prefix": {prefix}}
		if token != "" {
			q.Set("continuation-token", token)
		}
		resp, err := s.do(ctx, http.MethodGet, strings.TrimRight(s.Endpoint, "/")+"/"+s.Bucket+"?"+canonicalQuery(q), nil)
		if err != nil {
			return fmt.Errorf("S3 list %s: %w", prefix, err)
		}
		var out struct {
			Contents []struct {
				Key string `xml:"Key"`
			} `xml:"Contents"`
			IsTruncated           bool   `xml:"IsTruncated"`
			NextContinuationToken string `xml:"NextContinuationToken"`
		}
		if resp.StatusCode != http.StatusOK {
			err := s3Error("list", prefix, resp)
			resp.Body.Close()
			return err
		}
		err = xml.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("S3 list %s: unreadable answer: %w", prefix, err)
		}
		for _, c := range out.Contents {
			resp, err := s.do(ctx, http.MethodDelete, s.objectURL(c.Key), nil)
			if err != nil {
				return fmt.Errorf("S3 delete %s: %w", c.Key, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
				return fmt.Errorf("S3 delete %s: %s", c.Key, resp.Status)
			}
		}
		if !out.IsTruncated || out.NextContinuationToken == "" {
			return nil
		}
		token = out.NextContinuationToken
	}
}

// ---- Signature Version 4 -------------------------------------------------------------

func uriEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	return strings.Join(parts, "&")
}

func hmacSHA(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// SignV4 signs req (AWS Signature Version 4, header form). body is the
// request payload; headers already on req that start with x-amz- or are
// Range/Content-Type are signed with Host.
func SignV4(req *http.Request, body []byte, accessKey, secretKey, region, service string, t time.Time) {
	t = t.UTC()
	amzDate := t.Format("20060102T150405Z")
	day := t.Format("20060102")
	ph := sha256.Sum256(body)
	payload := hex.EncodeToString(ph[:])
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payload)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	hdrs := map[string]string{"host": host}
	for k, v := range req.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") || lk == "range" || lk == "content-type" || lk == "content-md5" {
			hdrs[lk] = strings.Join(strings.Fields(strings.Join(v, ",")), " ")
		}
	}
	names := make([]string, 0, len(hdrs))
	for k := range hdrs {
		names = append(names, k)
	}
	sort.Strings(names)
	var ch strings.Builder
	for _, k := range names {
		ch.WriteString(k + ":" + hdrs[k] + "\n")
	}
	signed := strings.Join(names, ";")
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	creq := strings.Join([]string{req.Method, path, canonicalQuery(req.URL.Query()), ch.String(), signed, payload}, "\n")
	ch2 := sha256.Sum256([]byte(creq))
	scope := day + "/" + region + "/" + service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(ch2[:])
	k := hmacSHA([]byte("AWS4"+secretKey), day)
	k = hmacSHA(k, region)
	k = hmacSHA(k, service)
	k = hmacSHA(k, "aws4_request")
	sig := hex.EncodeToString(hmacSHA(k, sts))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+accessKey+"/"+scope+", SignedHeaders="+signed+", Signature="+sig)
}
