package sync

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/assent-app/assent/sync/api"
)

// Token rotation. assentd ends device tokens TokenTTL (default 180 days)
// after they were issued. With Config.OnTokenRotated set, the client asks
// for a new token (POST /v1/device/token) once its token is older than
// Config.RotateEvery (default 30 days; the age is kept as the time of a
// stamp file in the outbox), hands it to OnTokenRotated to keep (the OS
// keyring), and only then uses it. The server keeps the old token working
// until the new one is first used, so if the new one cannot be kept (or the
// answer is lost, or the app dies before keeping it) the client goes on
// with the old token and asks again on the next pass.

const tokenStamp = "token-rotated"

func (c *Client) maybeRotateToken(ctx context.Context) error {
	if c.cfg.OnTokenRotated == nil || c.cfg.RotateEvery < 0 {
		return nil
	}
	stamp := filepath.Join(c.cfg.OutboxDir, tokenStamp)
	if fi, err := os.Stat(stamp); err == nil && time.Since(fi.ModTime()) < c.cfg.RotateEvery {
		return nil
	}
	var tr api.TokenResponse
	if _, err := c.tus.jsonCall(ctx, http.MethodPost, "/v1/device/token", nil, &tr, http.StatusOK); err != nil {
		return fmt.Errorf("renew the device token: %w", err)
	}
	if err := c.cfg.OnTokenRotated(tr.Token); err != nil {
		// The old token still works (the new one was never used): go on with
		// it and renew on the next pass.
		return fmt.Errorf("the server renewed this device's token but it could not be kept (%v); syncing goes on with the current token and Assent tries again on the next pass — unlock the keyring if it is locked", err)
	}
	c.tus.token = tr.Token
	// Use it at once: its first use ends the old token on the server. (If
	// this request fails, the next one does the same.)
	if _, err := c.tus.jsonCall(ctx, http.MethodGet, "/v1/policy", nil, nil, http.StatusOK, http.StatusNoContent, http.StatusNotFound); err != nil {
		c.log.Warn("the renewed device token was kept but not used yet", "err", err.Error())
	}
	if err := os.WriteFile(stamp, nil, 0o600); err != nil {
		return fmt.Errorf("renew the device token: %w", err)
	}
	now := time.Now()
	os.Chtimes(stamp, now, now)
	c.log.Info("device token renewed", "expires", tr.Expires.Format(time.RFC3339))
	return nil
}
