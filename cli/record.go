package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/workspace"
	"github.com/assent-app/assent/recording"
	"github.com/assent-app/assent/vault"
)

func init() {
	commands["record"] = command{"record a call after every participant agreed",
		`assent record [--title T] [--input DEV] [--call-input DEV] [--duration D] [--lang L] [--verbal] --participant "Name <email> [lang]"...`,
		cmdRecord}
}

// errInterrupted ends a prompt when the user stops the program.
var errInterrupted = errors.New("interrupted")

// console reads answers and commands line by line while watching for Ctrl-C,
// the duration limit and the end of capture.
type console struct {
	e     *env
	lines chan string
	sig   chan os.Signal
	stop  <-chan time.Time
	done  <-chan struct{}
}

func newConsole(e *env) *console {
	c := &console{e: e, lines: make(chan string), sig: make(chan os.Signal, 2)}
	signal.Notify(c.sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		sc := bufio.NewScanner(e.stdin)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	return c
}

func (c *console) close() { signal.Stop(c.sig) }

// line waits for the next line. It returns errInterrupted on Ctrl-C, the
// duration limit, the end of capture or the end of input.
func (c *console) line() (string, error) {
	select {
	case l, ok := <-c.lines:
		if !ok {
			return "", errInterrupted
		}
		return strings.TrimSpace(l), nil
	case <-c.sig:
		return "", errInterrupted
	case <-c.stop:
		return "", errInterrupted
	case <-c.done:
		return "", errInterrupted
	}
}

type answer int

const (
	agree answer = iota
	decline
)

func parseAnswer(s string) (answer, bool) {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(s), ".!\"")) {
	case "i agree", "agree", "yes", "y", "ik ga akkoord", "akkoord", "ja", "j", "ich stimme zu", "j'accepte", "oui":
		return agree, true
	case "no", "n", "i do not agree", "i don't agree", "nee", "ik ga niet akkoord", "nein", "non":
		return decline, true
	}
	return decline, false
}

type participant struct {
	id string
	p  consent.Principal
}

type recorder struct {
	e        *env
	con      *console
	call     *recording.Call
	set      *consent.NoticeSet
	minAge   int
	method   consent.Method
	host     string // participant id of the host, for verbal consent
	shown    map[string]bool
	parts    []participant
	refused  string
	withdrew string
}

func (r *recorder) showNotice(lang string) {
	if r.shown[lang] {
		return
	}
	r.shown[lang] = true
	n := r.set.Texts[lang]
	fmt.Fprintf(r.e.stdout, "\n──── Recording notice (%s, %s version %s, sha256 %.12s…) ────\n\n%s\n────\n\n", lang, n.ID, n.Version, n.SHA256, strings.TrimSpace(n.Text))
}

// ask shows the notice and asks one participant; it returns false if they
// declined (the call is then over) or the prompt was interrupted.
func (r *recorder) ask(pt participant) (bool, error) {
	r.showNotice(pt.p.Lang)
	if _, err := r.call.Ask(pt.id); err != nil {
		return false, err
	}
	attest := ""
	if r.method == consent.VerbalAttested {
		attest = r.host
	}
	for {
		fmt.Fprintf(r.e.stdout, "%s: do you agree to this call being recorded? Type \"I agree\" or \"no\": ", pt.p.Name)
		l, err := r.con.line()
		if err != nil {
			return false, err
		}
		a, ok := parseAnswer(l)
		if !ok {
			fmt.Fprintln(r.e.stdout, "Please type \"I agree\" or \"no\".")
			continue
		}
		if a == decline {
			r.refused = pt.p.Name
			_, err := r.call.Refuse(pt.id, r.method, attest)
			return false, err
		}
		break
	}
	for {
		fmt.Fprintf(r.e.stdout, "%s: are you at least %d years old? Type \"yes\" or \"no\": ", pt.p.Name, r.minAge)
		l, err := r.con.line()
		if err != nil {
			return false, err
		}
		a, ok := parseAnswer(l)
		if !ok {
			continue
		}
		if a == decline {
			r.refused = pt.p.Name + fmt.Sprintf(" (under the minimum age of %d)", r.minAge)
			_, err := r.call.Apply(consent.Event{Type: consent.ConsentRefused, Participant: pt.id, Method: r.method,
				AttestedBy: attest, Reason: "below the minimum age"})
			return false, err
		}
		break
	}
	if _, err := r.call.Agree(pt.id, r.method, attest); err != nil {
		return false, err
	}
	fmt.Fprintf(r.e.stdout, "✓ %s agreed.\n", pt.p.Name)
	return true, nil
}

func (r *recorder) find(name string) (participant, bool) {
	for _, pt := range r.parts {
		if strings.EqualFold(pt.p.Name, name) || pt.id == name {
			return pt, true
		}
	}
	return participant{}, false
}

func cmdRecord(e *env, args []string) int {
	fs := flags(e, "record")
	title := fs.String("title", "", "title of the recording (default: \"Call\" and the date)")
	input := fs.String("input", "", "microphone: a name or index from 'assent devices', or pulse:SOURCE (default: settings, else the default input)")
	callInput := fs.String("call-input", "", "the other side of the call, recorded as the right channel: a device from 'assent devices', or none (default: settings, else what this computer plays)")
	dur := fs.Duration("duration", 0, "stop after this long, e.g. 30m (default: until stopped)")
	lang := fs.String("lang", "", "notice language for participants without [lang] (default: settings, else en)")
	verbal := fs.Bool("verbal", false, "participants answer aloud on the call; the first participant (the host) attests each answer")
	noChime := fs.Bool("no-chime", false, "do not play the start/pause/stop chime")
	var specs stringList
	fs.Var(&specs, "participant", "a participant: \"Name\", \"Name <email>\", optionally followed by a language like [nl] (repeat for each)")
	if c := parse(fs, args); c >= 0 {
		return c
	}
	if fs.NArg() > 0 {
		return fail(e, ExitUsage, "unexpected argument %q; participants go with --participant", fs.Arg(0))
	}
	if len(specs) == 0 {
		return fail(e, ExitUsage, "name at least one participant with --participant \"Name <email>\" (include yourself: everyone on the call must agree)")
	}
	ws, code := open(e)
	if code >= 0 {
		return code
	}
	cfg := ws.cfg
	defLang := *lang
	if defLang == "" {
		defLang = cfg.Language
	}
	set, _, err := workspace.Notices(cfg)
	if err != nil {
		return fail(e, ExitFailed, "cannot prepare the recording notice: %v", err)
	}
	if defLang == "" || set.Texts[defLang] == nil {
		if *lang != "" {
			return fail(e, ExitUsage, "the notice is not available in %q; available: %s", *lang, strings.Join(set.Langs(), ", "))
		}
		defLang = "en"
	}
	var parts []participant
	var vparts []vault.Participant
	for i, s := range specs {
		p, err := parseParticipant(s, defLang)
		if err != nil {
			return fail(e, ExitUsage, "%v", err)
		}
		if set.Texts[p.Lang] == nil {
			return fail(e, ExitUsage, "the notice is not available in %q (for %s); available: %s", p.Lang, p.Name, strings.Join(set.Langs(), ", "))
		}
		parts = append(parts, participant{id: fmt.Sprintf("p%d", i+1), p: p})
		vparts = append(vparts, vault.Participant{Name: p.Name, Email: p.Email})
	}
	if *title == "" {
		*title = "Call " + time.Now().Format("2006-01-02 15:04")
	}
	src, err := audio.OpenCapture(captureConfig(e, cfg, *input, *callInput)) // devices.go
	if err != nil {
		return fail(e, ExitFailed, "%v", captureError(err))
	}
	w, err := ws.vault.Create(vault.NewRecording{Title: *title, Participants: vparts})
	if err != nil {
		src.Close()
		return fail(e, ExitFailed, "%v", err)
	}
	id := w.ID()

	chimes := &chimePlayer{e: e, on: cfg.Chime && !*noChime, beep: cfg.Beep}
	call, err := recording.Start(recording.Config{RecordingID: id, Notices: set, Signer: ws.vault.Signer(),
		Source: src, Store: w, Cue: chimes.cue})
	if err != nil {
		src.Close()
		_ = w.Close()
		_ = ws.vault.Delete(id)
		return fail(e, ExitFailed, "%v", err)
	}
	warnSilentSide(e, call) // devices.go
	con := newConsole(e)
	defer con.close()
	con.done = call.Done()
	if *dur > 0 {
		con.stop = time.After(*dur)
	}
	r := &recorder{e: e, con: con, call: call, set: set, minAge: set.Org.MinAge, method: consent.OnScreen,
		host: parts[0].id, shown: map[string]bool{}, parts: parts}
	if *verbal {
		r.method = consent.VerbalAttested
	}
	for _, pt := range parts {
		if _, err := call.Add(pt.id, pt.p); err != nil {
			return r.finish(id, ws, chimes, err)
		}
	}
	if _, err := call.RequestRecording(); err != nil {
		return r.finish(id, ws, chimes, err)
	}
	fmt.Fprintf(e.stdout, "Assent will record \"%s\" only after all %d participants agreed.\n", *title, len(parts))
	for _, pt := range parts {
		ok, err := r.ask(pt)
		if err != nil || !ok {
			return r.finish(id, ws, chimes, err)
		}
	}
	return r.finish(id, ws, chimes, r.loop())
}

// loop runs while recording: it handles commands until stopped.
func (r *recorder) loop() error {
	st := r.call.State()
	if st.GateOpen {
		fmt.Fprintln(r.e.stdout, "● recording started. Commands + Enter: 'w NAME' withdraw (stops at once), 'j NAME' someone joined, 'p' pause, 'r' resume, 's' stop.")
	}
	for {
		l, err := r.con.line()
		if errors.Is(err, errInterrupted) {
			return nil
		}
		cmd, arg, _ := strings.Cut(l, " ")
		arg = strings.TrimSpace(arg)
		switch strings.ToLower(cmd) {
		case "":
		case "s", "stop", "q":
			return nil
		case "p", "pause":
			if _, err := r.call.Pause(); err != nil {
				fmt.Fprintf(r.e.stdout, "cannot pause: %v\n", err)
			} else {
				fmt.Fprintln(r.e.stdout, "❚❚ paused — nothing is recorded. 'r' resumes.")
			}
		case "r", "resume":
			st, err := r.call.Resume()
			if err != nil {
				fmt.Fprintf(r.e.stdout, "cannot resume: %v\n", err)
			} else if st.GateOpen {
				fmt.Fprintln(r.e.stdout, "● recording resumed.")
			}
		case "w", "withdraw":
			pt, ok := r.find(arg)
			if !ok {
				fmt.Fprintf(r.e.stdout, "no participant %q; participants: %s\n", arg, r.names())
				continue
			}
			attest := ""
			if r.method == consent.VerbalAttested {
				attest = r.host
			}
			r.withdrew = pt.p.Name
			if _, err := r.call.Withdraw(pt.id, r.method, attest); err != nil {
				return err
			}
			return nil
		case "j", "join":
			p, err := parseParticipant(arg, r.parts[0].p.Lang)
			if err != nil {
				fmt.Fprintln(r.e.stdout, err)
				continue
			}
			if r.set.Texts[p.Lang] == nil {
				fmt.Fprintf(r.e.stdout, "no notice in %q; available: %s\n", p.Lang, strings.Join(r.set.Langs(), ", "))
				continue
			}
			pt := participant{id: fmt.Sprintf("p%d", len(r.parts)+1), p: p}
			r.parts = append(r.parts, pt)
			if _, err := r.call.Add(pt.id, p); err != nil {
				return err
			}
			fmt.Fprintf(r.e.stdout, "❚❚ %s joined — recording paused until they agree.\n", p.Name)
			ok, err := r.ask(pt)
			if err != nil || !ok {
				return err
			}
			if r.call.State().GateOpen {
				fmt.Fprintln(r.e.stdout, "● recording resumed.")
			}
		default:
			fmt.Fprintln(r.e.stdout, "commands: 'w NAME' withdraw, 'j NAME' someone joined, 'p' pause, 'r' resume, 's' stop")
		}
	}
}

func (r *recorder) names() string {
	var n []string
	for _, pt := range r.parts {
		n = append(n, pt.p.Name)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// finish stops the call and reports; cause is what ended it (nil: a normal stop).
func (r *recorder) finish(id string, ws *session, chimes *chimePlayer, cause error) int {
	st, err := r.call.Stop()
	chimes.wait()
	if errors.Is(cause, errInterrupted) {
		cause = nil
	}
	if cause == nil {
		cause = err
	}
	secs := float64(st.Offset) / audio.SampleRate
	if st.Offset == 0 {
		// Nothing was recorded: keep no audio-free recording around.
		if derr := ws.vault.Delete(id); derr != nil {
			fmt.Fprintf(r.e.stderr, "assent: could not remove the empty recording %s: %v\n", id, derr)
		}
		switch {
		case r.refused != "":
			return fail(r.e, ExitRefused, "%s did not agree — nothing was recorded", r.refused)
		case cause != nil:
			return fail(r.e, ExitFailed, "nothing was recorded: %v", cause)
		case r.withdrew != "":
			return fail(r.e, ExitRefused, "%s withdrew — nothing was recorded", r.withdrew)
		default:
			return fail(r.e, ExitRefused, "stopped before everyone agreed — nothing was recorded")
		}
	}
	if r.withdrew != "" {
		fmt.Fprintf(r.e.stdout, "■ %s withdrew consent — recording stopped at once.\n", r.withdrew)
	} else if r.refused != "" {
		fmt.Fprintf(r.e.stdout, "■ %s did not agree — recording stopped; nothing of them was recorded.\n", r.refused)
	} else {
		fmt.Fprintln(r.e.stdout, "■ recording stopped.")
	}
	sum, _ := ws.vault.Get(id)
	fmt.Fprintf(r.e.stdout, "Saved %s of audio in %d encrypted segments (%s).\n", clock(secs), sum.Segments, size(sum.Size))
	fmt.Fprintf(r.e.stdout, "recording %s\n", id)
	if cause != nil {
		return fail(r.e, ExitFailed, "the recording ended early: %v — what was sealed before is kept", cause)
	}
	return ExitOK
}

// chimePlayer plays the chimes (and the optional periodic beep) so that
// everyone on the call hears when recording starts, pauses and stops.
type chimePlayer struct {
	e        *env
	on, beep bool
	chimes   recording.Chimes
	wg       sync.WaitGroup
	once     sync.Once
	beepStop context.CancelFunc
}

func (c *chimePlayer) cue(from, to consent.Phase) {
	if !c.on {
		return
	}
	ch, ok := c.chimes.For(from, to)
	if !ok {
		return
	}
	switch ch {
	case audio.ChimeStart:
		if c.beep && c.beepStop == nil {
			ctx, cancel := context.WithCancel(context.Background())
			c.beepStop = cancel
			go func() { _ = audio.RunBeeper(ctx, 0) }()
		}
	case audio.ChimeStop:
		if c.beepStop != nil {
			c.beepStop()
		}
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := audio.PlayChime(ctx, ch); err != nil {
			c.once.Do(func() {
				fmt.Fprintf(c.e.stderr, "assent: warning: the chime could not be played (%v); tell the other participants yourself\n", err)
			})
		}
	}()
}

func (c *chimePlayer) wait() {
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
}

func clock(secs float64) string {
	s := int(secs + 0.5)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
