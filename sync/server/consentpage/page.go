package consentpage

import (
	"html/template"
	"sort"
	"strconv"
	"strings"
)

// ui holds the page's own words per language; English is the fallback.
var ui = map[string]map[string]string{
	"en": {
		"title": "Recording consent", "for": "For", "name": "Your name", "nameHint": "As others on the call know you.",
		"age": "I am at least %d years old.", "agree": "I agree to recording", "decline": "I do not agree",
		"withdraw": "Withdraw — stop recording", "langs": "Language",
		"given": "Thank you — you agreed to the recording.", "givenMore": "You can withdraw at any time during the call: the recording stops at once. Keep this page open or come back to it with the same link.",
		"refused": "You did not agree. Nothing of this call is recorded.", "withdrawn": "You withdrew your consent. The recording has stopped.",
		"ended": "This call has ended; this link no longer works.", "expired": "This consent link has expired. Ask the host for a new one.",
		"notfound": "This link is not valid. Check that you copied all of it, or ask the host for a new one.",
		"full":     "Every place on this link has been taken. Ask the host for a link of your own.",
		"needAge":  "Please confirm your age before agreeing.", "needName": "Please give your name.",
		"answered": "You already answered on this link; only a withdrawal is still possible.",
		"stale":    "The notice changed since this page was loaded. Please read it again.",
		"slow":     "Too many attempts. Please wait a minute and try again.", "unavailable": "The page could not be loaded just now. Please try again in a few seconds.", "bad": "That did not work: ",
		"private": "This page sets no cookies and loads nothing from anyone else.",
	},
	"nl": {
		"title": "Toestemming voor opname", "for": "Voor", "name": "Uw naam", "nameHint": "Zoals anderen in het gesprek u kennen.",
		"age": "Ik ben ten minste %d jaar oud.", "agree": "Ik ga akkoord met opname", "decline": "Ik ga niet akkoord",
		"withdraw": "Intrekken — stop de opname", "langs": "Taal",
		"given": "Dank u — u gaf toestemming voor de opname.", "givenMore": "U kunt tijdens het gesprek altijd intrekken: de opname stopt dan meteen. Houd deze pagina open of kom terug via dezelfde link.",
		"refused": "U gaf geen toestemming. Er wordt niets van dit gesprek opgenomen.", "withdrawn": "U trok uw toestemming in. De opname is gestopt.",
		"ended": "Dit gesprek is afgelopen; deze link werkt niet meer.", "expired": "Deze toestemmingslink is verlopen. Vraag de gastheer om een nieuwe.",
		"notfound": "Deze link is niet geldig. Controleer of u hem helemaal hebt gekopieerd, of vraag om een nieuwe.",
		"full":     "Alle plaatsen op deze link zijn bezet. Vraag de gastheer om een eigen link.",
		"needAge":  "Bevestig eerst uw leeftijd.", "needName": "Vul uw naam in.",
		"answered": "U hebt op deze link al geantwoord; alleen intrekken is nog mogelijk.",
		"stale":    "De mededeling is gewijzigd sinds deze pagina werd geladen. Lees haar opnieuw.",
		"slow":     "Te veel pogingen. Wacht een minuut en probeer het opnieuw.", "unavailable": "De pagina kon nu niet worden geladen. Probeer het over een paar seconden opnieuw.", "bad": "Dat lukte niet: ",
		"private": "Deze pagina plaatst geen cookies en laadt niets van anderen.",
	},
	"de": {
		"title": "Einwilligung zur Aufnahme", "for": "Für", "name": "Ihr Name", "nameHint": "So, wie die anderen im Gespräch Sie kennen.",
		"age": "Ich bin mindestens %d Jahre alt.", "agree": "Ich willige in die Aufnahme ein", "decline": "Ich willige nicht ein",
		"withdraw": "Widerrufen — Aufnahme stoppen", "langs": "Sprache",
		"given": "Danke — Sie haben in die Aufnahme eingewilligt.", "givenMore": "Sie können jederzeit während des Gesprächs widerrufen: die Aufnahme stoppt sofort. Lassen Sie diese Seite offen oder kehren Sie über denselben Link zurück.",
		"refused": "Sie haben nicht eingewilligt. Von diesem Gespräch wird nichts aufgenommen.", "withdrawn": "Sie haben Ihre Einwilligung widerrufen. Die Aufnahme wurde gestoppt.",
		"ended": "Dieses Gespräch ist beendet; der Link funktioniert nicht mehr.", "expired": "Dieser Einwilligungslink ist abgelaufen. Bitten Sie um einen neuen.",
		"notfound": "Dieser Link ist ungültig. Prüfen Sie, ob Sie ihn vollständig kopiert haben, oder bitten Sie um einen neuen.",
		"full":     "Alle Plätze dieses Links sind vergeben. Bitten Sie um einen eigenen Link.",
		"needAge":  "Bitte bestätigen Sie zuerst Ihr Alter.", "needName": "Bitte geben Sie Ihren Namen an.",
		"answered": "Sie haben über diesen Link bereits geantwortet; nur ein Widerruf ist noch möglich.",
		"stale":    "Der Hinweis hat sich geändert. Bitte lesen Sie ihn erneut.",
		"slow":     "Zu viele Versuche. Bitte warten Sie eine Minute.", "unavailable": "Die Seite konnte gerade nicht geladen werden. Bitte versuchen Sie es in ein paar Sekunden erneut.", "bad": "Das hat nicht geklappt: ",
		"private": "Diese Seite setzt keine Cookies und lädt nichts von Dritten.",
	},
	"fr": {
		"title": "Consentement à l'enregistrement", "for": "Pour", "name": "Votre nom", "nameHint": "Tel que les autres participants vous connaissent.",
		"age": "J'ai au moins %d ans.", "agree": "J'accepte l'enregistrement", "decline": "Je n'accepte pas",
		"withdraw": "Retirer — arrêter l'enregistrement", "langs": "Langue",
		"given": "Merci — vous avez accepté l'enregistrement.", "givenMore": "Vous pouvez retirer votre consentement à tout moment pendant l'appel : l'enregistrement s'arrête aussitôt. Gardez cette page ouverte ou revenez-y avec le même lien.",
		"refused": "Vous n'avez pas accepté. Rien de cet appel n'est enregistré.", "withdrawn": "Vous avez retiré votre consentement. L'enregistrement est arrêté.",
		"ended": "Cet appel est terminé ; ce lien ne fonctionne plus.", "expired": "Ce lien de consentement a expiré. Demandez-en un nouveau.",
		"notfound": "Ce lien n'est pas valide. Vérifiez que vous l'avez copié en entier, ou demandez-en un nouveau.",
		"full":     "Toutes les places de ce lien sont prises. Demandez un lien personnel.",
		"needAge":  "Veuillez d'abord confirmer votre âge.", "needName": "Veuillez indiquer votre nom.",
		"answered": "Vous avez déjà répondu sur ce lien ; seul un retrait est encore possible.",
		"stale":    "L'avis a changé depuis le chargement de cette page. Veuillez le relire.",
		"slow":     "Trop de tentatives. Veuillez patienter une minute.", "unavailable": "La page n'a pas pu être chargée. Veuillez réessayer dans quelques secondes.", "bad": "Cela n'a pas fonctionné : ",
		"private": "Cette page ne dépose aucun cookie et ne charge rien de tiers.",
	},
}

var langNames = map[string]string{"en": "English", "nl": "Nederlands", "de": "Deutsch", "fr": "Français",
	"es": "Español", "it": "Italiano", "pt": "Português", "pl": "Polski", "sv": "Svenska", "da": "Dansk"}

func word(lang, key string) string {
	if m, ok := ui[base(lang)]; ok {
		if s, ok := m[key]; ok {
			return s
		}
	}
	return ui["en"][key]
}

func base(lang string) string {
	if i := strings.IndexByte(lang, '-'); i > 0 {
		return lang[:i]
	}
	return lang
}

// ParseAcceptLanguage returns the language ranges of an Accept-Language
// header, best first (q=0 ranges dropped, at most 32 kept).
func ParseAcceptLanguage(h string) []string {
	type lq struct {
		l string
		q float64
		i int
	}
	var out []lq
	for i, part := range strings.Split(h, ",") {
		if i >= 32 {
			break
		}
		fields := strings.Split(part, ";")
		l := strings.TrimSpace(fields[0])
		if l == "" || len(l) > 35 {
			continue
		}
		q := 1.0
		for _, p := range fields[1:] {
			p = strings.TrimSpace(p)
			if v, ok := strings.CutPrefix(p, "q="); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		if q > 0 {
			out = append(out, lq{l, q, i})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].q > out[b].q })
	r := make([]string, len(out))
	for i, x := range out {
		r[i] = x.l
	}
	return r
}

// pickLang chooses the page language: an explicit choice, then the
// visitor's Accept-Language (exact, then primary subtag), then the slot's
// language, then English, then the first offered.
func pickLang(offered []string, explicit, accept, slotLang string) string {
	has := func(l string) bool {
		for _, o := range offered {
			if o == l {
				return true
			}
		}
		return false
	}
	if has(explicit) {
		return explicit
	}
	for _, r := range ParseAcceptLanguage(accept) {
		if r == "*" {
			break
		}
		norm := strings.ToLower(r)
		if i := strings.IndexByte(norm, '-'); i > 0 {
			norm = norm[:i] + "-" + strings.ToUpper(norm[i+1:])
		}
		if has(norm) {
			return norm
		}
		if has(base(strings.ToLower(r))) {
			return base(strings.ToLower(r))
		}
	}
	if has(slotLang) {
		return slotLang
	}
	if has("en") {
		return "en"
	}
	return offered[0]
}

// renderNotice turns the notice's Markdown subset (headings, paragraphs,
// "-" lists, **bold**) into HTML. Everything is escaped first, so no text
// of the notice can become markup. The first heading is returned apart, as
// the page title.
func renderNotice(md string) (title string, body template.HTML) {
	var b strings.Builder
	var para []string
	inList := false
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>\n")
			para = nil
		}
	}
	endList := func() {
		if inList {
			b.WriteString("</ul>\n")
			inList = false
		}
	}
	for _, line := range strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			flush()
			endList()
		case strings.HasPrefix(t, "#"):
			flush()
			endList()
			lvl := len(t) - len(strings.TrimLeft(t, "#"))
			text := strings.TrimSpace(t[lvl:])
			if title == "" && lvl == 1 {
				title = text
				continue
			}
			tag := "h2"
			if lvl >= 3 {
				tag = "h3"
			}
			b.WriteString("<" + tag + ">" + inline(text) + "</" + tag + ">\n")
		case strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* "):
			flush()
			if !inList {
				b.WriteString("<ul>\n")
				inList = true
			}
			b.WriteString("<li>" + inline(t[2:]) + "</li>\n")
		default:
			if inList && strings.HasPrefix(line, "  ") {
				// continuation of a list item: append to the last item
				s := b.String()
				s = strings.TrimSuffix(s, "</li>\n") + " " + inline(t) + "</li>\n"
				b.Reset()
				b.WriteString(s)
				continue
			}
			endList()
			para = append(para, t)
		}
	}
	flush()
	endList()
	return title, template.HTML(b.String())
}

func inline(s string) string {
	s = template.HTMLEscapeString(s)
	var b strings.Builder
	for {
		i := strings.Index(s, "**")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+2:], "**")
		if j < 0 {
			break
		}
		b.WriteString(s[:i] + "<strong>" + s[i+2:i+2+j] + "</strong>")
		s = s[i+2+j+2:]
	}
	b.WriteString(s)
	return b.String()
}

// pageData is what the page template shows.
type pageData struct {
	Lang, Dir   string
	Nonce       string
	Title       string
	Controller  string
	NoticeTitle string
	Notice      template.HTML
	NoticeSHA   string
	NoticeRef   string // "call-recording v1"
	For         string // named slot's name
	AskName     bool
	Name        string
	AgeText     string
	State       string // "form", "given", "refused", "withdrawn", "message"
	Message     string // status text for State "message"
	Error       string
	Langs       []langLink
	W           func(string) string
	Action      string
	AgeChecked  bool
	ShowNotice  bool
}

type langLink struct {
	Code, Name string
	Current    bool
}

const css = `
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1a1d21;--muted:#555d66;--line:#d5d9de;--accent:#0b5cad;--accent-fg:#fff;--ok:#106b35;--warn:#a3261b}
@media (prefers-color-scheme:dark){:root{--bg:#121416;--card:#1c1f23;--fg:#eceef0;--muted:#a9b0b8;--line:#353a40;--accent:#5aa2ef;--accent-fg:#0c1520;--ok:#5fd08c;--warn:#ff8a7f}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:42rem;margin:0 auto;padding:1rem}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:baseline;justify-content:space-between;padding:.5rem 0 1rem}
header .org{font-weight:600;color:var(--muted);font-size:.95rem}
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem;margin:0;padding:0}
nav a{display:inline-block;padding:.35rem .6rem;border-radius:.4rem;color:var(--accent);text-decoration:none;border:1px solid transparent}
nav a[aria-current]{border-color:var(--line);color:var(--fg);font-weight:600}
nav a:hover{text-decoration:underline}
.card{background:var(--card);border:1px solid var(--line);border-radius:.9rem;padding:1.25rem 1.25rem 1rem;margin-bottom:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:.1rem 0 .8rem}
h2{font-size:1.15rem;margin:1.2rem 0 .4rem}
.notice p{margin:.6rem 0}
.who{margin:0 0 1rem;color:var(--muted)}
.who strong{color:var(--fg)}
label{display:block;font-weight:600;margin:.2rem 0}
.hint{color:var(--muted);font-size:.9rem;margin:0 0 .4rem}
input[type=text]{width:100%;font:inherit;padding:.7rem .8rem;border:1px solid var(--line);border-radius:.5rem;background:var(--bg);color:var(--fg)}
.check{display:flex;gap:.7rem;align-items:flex-start;margin:1rem 0;font-weight:400}
.check input{width:1.4rem;height:1.4rem;margin:.15rem 0 0;flex:none;accent-color:var(--accent)}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1rem}
button{font:inherit;font-weight:600;min-height:3rem;padding:.7rem 1.2rem;border-radius:.6rem;border:2px solid var(--accent);cursor:pointer;flex:1 1 12rem}
button.yes{background:var(--accent);color:var(--accent-fg)}
button.no{background:transparent;color:var(--accent)}
button.stop{background:var(--warn);border-color:var(--warn);color:#fff;width:100%}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.status{font-size:1.15rem;font-weight:600;margin:.2rem 0 .6rem}
.status.ok{color:var(--ok)}
.status.stopped{color:var(--warn)}
.error{border-left:4px solid var(--warn);padding:.5rem .8rem;margin:0 0 1rem;background:color-mix(in srgb,var(--warn) 10%,transparent)}
footer{color:var(--muted);font-size:.85rem;padding:.5rem 0 2rem}
form.answer{border-top:1px solid var(--line);margin-top:1.2rem;padding-top:1rem}
`

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>{{.Title}}{{if .Controller}} — {{.Controller}}{{end}}</title>
<style nonce="{{.Nonce}}">` + css + `</style>
</head>
<body>
<main>
<header>
<span class="org">{{if .Controller}}{{.Controller}} · {{end}}{{.Title}}</span>
{{if gt (len .Langs) 1}}<nav aria-label="{{call .W "langs"}}"><ul>{{range .Langs}}<li><a href="?lang={{.Code}}" hreflang="{{.Code}}" lang="{{.Code}}"{{if .Current}} aria-current="true"{{end}}>{{.Name}}</a></li>{{end}}</ul></nav>{{end}}
</header>
{{if and .Error (ne .State "form")}}<div class="error" role="alert">{{.Error}}</div>{{end}}
{{if eq .State "given"}}
<section class="card" aria-live="polite">
<p class="status ok">{{call .W "given"}}</p>
<p>{{call .W "givenMore"}}</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="lang" value="{{.Lang}}">
<button class="stop" type="submit" name="decision" value="withdrawn">{{call .W "withdraw"}}</button>
</form>
</section>
{{else if eq .State "refused"}}
<section class="card" aria-live="polite"><p class="status">{{call .W "refused"}}</p></section>
{{else if eq .State "withdrawn"}}
<section class="card" aria-live="polite"><p class="status stopped">{{call .W "withdrawn"}}</p></section>
{{else if eq .State "message"}}
<section class="card"><p class="status">{{.Message}}</p></section>
{{end}}
{{if .ShowNotice}}
<article class="card notice" aria-labelledby="nt">
<h1 id="nt">{{.NoticeTitle}}</h1>
{{if .For}}<p class="who">{{call .W "for"}}: <strong>{{.For}}</strong></p>{{end}}
{{.Notice}}
{{if eq .State "form"}}
<form class="answer" id="answer" method="post" action="{{.Action}}#answer">
{{if .Error}}<div class="error" role="alert">{{.Error}}</div>{{end}}
<input type="hidden" name="lang" value="{{.Lang}}">
<input type="hidden" name="notice" value="{{.NoticeSHA}}">
{{if .AskName}}<label for="name">{{call .W "name"}}</label>
<p class="hint" id="name-hint">{{call .W "nameHint"}}</p>
<input type="text" id="name" name="name" value="{{.Name}}" maxlength="80" autocomplete="name" aria-describedby="name-hint">{{end}}
<label class="check"><input type="checkbox" name="age" value="yes"{{if .AgeChecked}} checked{{end}}> <span>{{.AgeText}}</span></label>
<div class="actions">
<button class="yes" type="submit" name="decision" value="given">{{call .W "agree"}}</button>
<button class="no" type="submit" name="decision" value="refused">{{call .W "decline"}}</button>
</div>
</form>
{{end}}
</article>
{{end}}
<footer><p>{{.NoticeRef}}{{if .NoticeRef}} · {{end}}{{call .W "private"}}</p></footer>
</main>
</body>
</html>
`))
