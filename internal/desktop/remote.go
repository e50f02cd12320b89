package desktop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-app/assent/app"
	"github.com/assent-app/assent/audio/spoken"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/workspace"
	"github.com/assent-app/assent/sync/remote"
)

// deviceToken reads the device token of the configured server from the OS
// keyring (the entry internal/workspace.Enrol writes).
func deviceToken(server string) (string, error) {
	tok, err := workspace.DeviceToken(server)
	if errors.Is(err, workspace.ErrNotEnrolled) {
		return "", errors.New("this device is not enrolled with a server, so there is no consent link; enrol in Settings, or use on-screen or verbal consent")
	}
	if err != nil {
		return "", fmt.Errorf("the device token could not be read from the keyring (%v); on-screen and verbal consent still work", err)
	}
	return tok, nil
}

// ConsentLink implements app.Call: a personal link for participantID, or
// with "" a shared link anyone on the call can open (they type their name).
// Answers given there are applied to this call as they arrive.
func (c *call) ConsentLink(participantID string) (app.ConsentLink, error) {
	c.mu.Lock()
	if l, ok := c.links[participantID]; ok {
		c.mu.Unlock()
		return l, nil
	}
	c.mu.Unlock()
	server := c.b.config().ServerURL
	if server == "" {
		return app.ConsentLink{}, errors.New("remote consent needs the organisation's server: enrol this device in Settings. On-screen and verbal consent work without it")
	}
	tok, err := deviceToken(server)
	if err != nil {
		return app.ConsentLink{}, err
	}
	req := remote.Request{RecordingID: c.id, Notices: c.set, OnAnswer: c.remoteAnswer}
	if participantID == "" {
		req.OpenSlots = 20
	} else {
		req.Participants = []string{participantID}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	l, err := (&remote.Client{BaseURL: server, Token: tok}).Open(ctx, c.rc, req)
	if err != nil {
		return app.ConsentLink{}, err
	}
	u := l.CallURL
	if participantID != "" {
		u = l.URLs[participantID]
	}
	qr, err := remote.QRCodePNG(u)
	if err != nil {
		return app.ConsentLink{}, err
	}
	link := app.ConsentLink{URL: u, QR: qr, Expires: l.ExpiresAt}
	c.mu.Lock()
	c.links[participantID] = link
	c.mu.Unlock()
	go func() { _ = l.Follow(context.Background(), c.rc.Done()) }()
	return link, nil
}

// remoteAnswer is called for each remote answer after it was applied. A
// refusal or withdrawal has already ended the call inside recording.Call
// (which stops capture and discards a call that admitted nothing); the
// app reads why from State.
func (c *call) remoteAnswer(remote.Answer, consent.State, error) {}

// announce plays the spoken "this call is being recorded" notice in the
// languages of the people present, after the start chime.
func (c *call) announce() {
	var langs []string
	for _, p := range c.rc.State().Participants {
		if p.Present {
			langs = append(langs, p.Principal.Lang)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = spoken.Play(ctx, langs...)
}
