// Package spoken plays the short spoken announcement that a call is being
// recorded ("This call is being recorded for note taking and coaching…"),
// in the participants' language, when recording starts — in addition to
// the start chime, for people who cannot see any screen.
//
// The announcements are Ogg Opus files in assets/sounds/spoken/<lang>.opus,
// made once from the texts below by ./gen (espeak-ng → sox → this project's
// Opus pipeline) and committed. This package owns those texts and the
// playback; it never synthesises speech at run time, never records and
// never touches the consent gate: the announcement is informative only,
// consent is still given on-screen, remotely or verbally.
package spoken

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"sort"

	"github.com/assent-app/assent/assets"
	"github.com/assent-app/assent/audio"
)

// texts are the spoken announcements. Changing one means running ./gen
// again and committing the new .opus file.
var texts = map[string]string{
	"en": "This call is being recorded for note taking and coaching. Say stop recording at any time to withdraw your consent, and the recording stops.",
	"nl": "Dit gesprek wordt opgenomen voor aantekeningen en coaching. Zeg op elk moment stop de opname om uw toestemming in te trekken, dan stopt de opname.",
	"de": "Dieses Gespräch wird für Notizen und Coaching aufgezeichnet. Sagen Sie jederzeit Aufnahme stoppen, um Ihre Einwilligung zu widerrufen, dann endet die Aufnahme.",
	"fr": "Cet appel est enregistré pour la prise de notes et le coaching. Dites arrêtez l'enregistrement à tout moment pour retirer votre consentement, et l'enregistrement s'arrête.",
}

// Langs lists the languages that have an announcement, sorted.
func Langs() []string {
	out := make([]string, 0, len(texts))
	for l := range texts {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Text is the announcement's exact wording in lang ("" if there is none).
func Text(lang string) string { return texts[lang] }

// Announcement returns the Ogg Opus announcement in lang, falling back to
// English when lang has none (the returned language says which was used).
func Announcement(lang string) (data []byte, used string, err error) {
	if _, ok := texts[lang]; !ok {
		lang = "en"
	}
	b, err := fs.ReadFile(assets.Sounds(), "spoken/"+lang+".opus")
	if err != nil {
		return nil, "", fmt.Errorf("spoken: the %s announcement is missing from this build (%v); run go run ./audio/spoken/gen", lang, err)
	}
	return b, lang, nil
}

// Play plays the announcement in each of langs in turn (duplicates and
// unknown languages fold into English, played once) through the system's
// sound output, and returns when it has been heard or ctx is done.
func Play(ctx context.Context, langs ...string) error {
	if len(langs) == 0 {
		langs = []string{"en"}
	}
	played := map[string]bool{}
	for _, l := range langs {
		data, used, err := Announcement(l)
		if err != nil {
			return err
		}
		if played[used] {
			continue
		}
		played[used] = true
		p, err := audio.NewPlayer(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("spoken: cannot play the announcement: %w", err)
		}
		p.Play()
		err = p.Wait(ctx)
		p.Stop()
		if err != nil {
			return fmt.Errorf("spoken: playing the %s announcement: %w", used, err)
		}
	}
	return nil
}
