package sync

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/sync/api"
)

// The organisation's policy on the device. On every sync pass the client
// fetches the signed policy (GET /v1/policy), checks its signature with the
// server's policy key learnt at enrolment (Config.PolicyKey), and saves it
// to Config.PolicyPath (internal/config.PolicyPath), where the call setup
// reads it. A policy that does not verify is never saved.

// ErrPolicySignature means the server sent a policy its policy key did not sign.
var ErrPolicySignature = errors.New("the organisation's policy from the server is not signed by the server's policy key; it was not saved. Ask your administrator; if the server was reinstalled, enrol this device again")

type policyAnswer = api.PolicyAnswer

// FetchPolicy gets the policy in force and checks its signature. It returns
// (nil, nil) if the organisation has not set one.
func (c *Client) FetchPolicy(ctx context.Context) (*consent.SignedPolicy, error) {
	if len(c.cfg.PolicyKey) != ed25519.PublicKeySize {
		return nil, errors.New("no policy key: enrol this device again to learn the server's policy key")
	}
	var a policyAnswer
	_, err := c.tus.jsonCall(ctx, http.MethodGet, "/v1/policy", nil, &a, http.StatusOK)
	var pe *ProblemError
	if errors.As(err, &pe) && pe.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch the organisation's policy: %w", err)
	}
	if _, err := a.Policy.Open(c.cfg.PolicyKey); err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrPolicySignature, err)
	}
	return &a.Policy, nil
}

// savePolicy fetches the policy and writes it to Config.PolicyPath.
func (c *Client) savePolicy(ctx context.Context) error {
	if c.cfg.PolicyPath == "" {
		return nil
	}
	if len(c.cfg.PolicyKey) != ed25519.PublicKeySize {
		// Enrolled before servers had policy keys: nothing to check against.
		c.log.Warn("no policy key from enrolment; the organisation's policy is not fetched (enrol this device again)")
		return nil
	}
	sp, err := c.FetchPolicy(ctx)
	if err != nil || sp == nil {
		return err
	}
	return SavePolicy(c.cfg.PolicyPath, sp)
}

// SavePolicy writes a signed policy to path atomically (temp file, fsync,
// rename, fsync of the directory).
func SavePolicy(path string, sp *consent.SignedPolicy) error {
	// Not indented: the policy bytes are signed as they are.
	b, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save the organisation's policy: %w", err)
	}
	f, err := os.CreateTemp(dir, ".policy-*")
	if err != nil {
		return fmt.Errorf("save the organisation's policy: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save the organisation's policy: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
