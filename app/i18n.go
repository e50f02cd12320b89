package app

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"

	"github.com/assent-app/assent/assets"
)

// UI text is English in the source (the key) and translated through
// fyne's lang package from assets/translations/<lang>.json. The consent
// screen also needs text in the *participant's* language, independent of
// the UI language; phrase() reads the same files for that.

var (
	i18nOnce sync.Once
	phrases  map[string]map[string]string // lang → key → text
	i18nErr  error
)

func loadTranslations() error {
	i18nOnce.Do(func() {
		phrases = map[string]map[string]string{}
		tr := assets.Translations()
		entries, err := fs.ReadDir(tr, ".")
		if err != nil {
			i18nErr = err
			return
		}
		for _, e := range entries {
			if path.Ext(e.Name()) != ".json" {
				continue
			}
			data, err := fs.ReadFile(tr, e.Name())
			if err != nil {
				i18nErr = err
				return
			}
			m := map[string]string{}
			if err := json.Unmarshal(data, &m); err != nil {
				i18nErr = fmt.Errorf("translation %s is not valid JSON: %w", e.Name(), err)
				return
			}
			code := strings.TrimSuffix(e.Name(), ".json")
			phrases[code] = m
			if err := lang.AddTranslationsForLocale(data, fyne.Locale(code)); err != nil {
				i18nErr = fmt.Errorf("translation %s: %w", e.Name(), err)
				return
			}
		}
	})
	return i18nErr
}

// uiLanguages are the languages the UI is translated into, sorted.
func uiLanguages() []string {
	_ = loadTranslations()
	var out []string
	for k := range phrases {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var origLanguage, origLanguageSet = os.LookupEnv("LANGUAGE")

// setUILanguage switches lang.L to code ("" = the system's language). Fyne
// picks the language from the environment, so this sets LANGUAGE and asks
// fyne to re-resolve it; screens must be rebuilt afterwards.
func setUILanguage(code string) {
	_ = loadTranslations()
	if code == "" {
		if origLanguageSet {
			os.Setenv("LANGUAGE", origLanguage)
		} else {
			os.Unsetenv("LANGUAGE")
		}
	} else {
		os.Setenv("LANGUAGE", code)
		// LANGUAGE is ignored when the locale is C/POSIX or unset.
		cur := os.Getenv("LC_ALL")
		if cur == "" {
			cur = os.Getenv("LC_MESSAGES")
		}
		if cur == "" {
			cur = os.Getenv("LANG")
		}
		if cur == "" || cur == "C" || cur == "POSIX" {
			os.Setenv("LC_ALL", "C.UTF-8")
		}
	}
	// Re-adding a bundle makes fyne resolve the locale again.
	if m, ok := phrases["en"]; ok {
		data, _ := json.Marshal(m)
		_ = lang.AddTranslationsForLocale(data, fyne.Locale("en"))
	}
}

// phrase returns key in language code (for participant-facing text on the
// consent screen), falling back to the key itself (English).
func phrase(code, key string) string {
	_ = loadTranslations()
	if m, ok := phrases[code]; ok {
		if s, ok := m[key]; ok {
			return s
		}
	}
	return key
}

// languageName is the name of a language in that language.
func languageName(code string) string {
	switch code {
	case "en":
		return "English"
	case "nl":
		return "Nederlands"
	case "de":
		return "Deutsch"
	case "fr":
		return "Français"
	}
	return code
}

// tr translates an error's message if it is a known text, so backend
// errors with stable English messages still reach the user in their language.
func trErr(err error) string {
	return lang.L(err.Error())
}
