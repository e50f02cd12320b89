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
// keyring), and uses it from then on. The server ends the old token at once,
// so a failure to keep the new one is reported as an error of the pass.

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
	c.tus.token = tr.Token
	if err := c.cfg.OnTokenRotated(tr.Token); err != nil {
		return fmt.Errorf("the server renewed this device's token but it could not be kept (%v); keep the app open and unlock the keyring, or this device must be enrolled again", err)
	}
	if err := os.WriteFile(stamp, nil, 0o600); err != nil {
		return fmt.Errorf("renew the device token: %w", err)
	}
	now := time.Now()
	os.Chtimes(stamp, now, now)
	c.log.Info("device token renewed", "expires", tr.Expires.Format(time.RFC3339))
	return nil
}
