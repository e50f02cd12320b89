package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/internal/config"
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
	switch strings.ToLower(strings.Trim(strings.TrimSpace(s), ".!\"„“”«» ")) {
	case "i agree", "agree", "yes", "y", "ik ga akkoord", "akkoord", "ja", "j", "ich stimme zu", "j'accepte", "oui", "d'accord":
		return agree, true
	case "no", "n", "i do not agree", "i don't agree", "nee", "ik ga niet akkoord", "nein", "ich stimme nicht zu", "non", "je refuse", "je n'accepte pas":
		return decline, true
	}
	return decline, false
}

type recorder struct {
	e        *env
	con      *console
	call     *recording.Call
	set      *consent.NoticeSet
	minAge   int
	verbal   bool // the host reads the notice aloud and types the others' answers
	hostLang string
}

// showNotice prints the full notice in lang as plain text.
func (r *recorder) showNotice(lang string) {
	n := r.set.Texts[lang]
	fmt.Fprintf(r.e.stdout, "\n──── %s (%s, %s %s, sha256 %.12s…) ────\n\n%s\n────\n\n", say(lang, "notice"), lang, n.ID, n.Version, n.SHA256, plainText(n.Text))
}

// yesNo asks q until the answer is yes/agree or no.
func (r *recorder) yesNo(q, again string) (bool, error) {
	for {
		fmt.Fprint(r.e.stdout, q)
		l, err := r.con.line()
		if err != nil {
			return false, err
		}
		a, ok := parseAnswer(l)
		if ok {
			return a == agree, nil
		}
		fmt.Fprintln(r.e.stdout, again)
	}
}

// ask shows participant p the full notice in their language and asks them
// (or, with --verbal, the host for them); it returns false if they declined
// (the call is then over).
func (r *recorder) ask(p consent.ParticipantState) (bool, error) {
	lang := p.Principal.Lang
	r.showNotice(lang)
	if _, err := r.call.Ask(p.ID); err != nil {
		return false, err
	}
	d := recording.Decision{Method: consent.OnScreen}
	var err error
	if r.verbal && p.ID != r.call.Host() {
		d.Method = consent.VerbalAttested
		if d.Agree, err = r.yesNo(say(lang, "verbal?", p.Principal.Name), say(lang, "age!")); err != nil {
			return false, err
		}
		if d.Agree {
			if d.AgeConfirmed, err = r.yesNo(say(lang, "verbage?", p.Principal.Name, r.minAge), say(lang, "age!")); err != nil {
				return false, err
			}
		}
	} else {
		if d.Agree, err = r.yesNo(say(lang, "agree?", p.Principal.Name), say(lang, "agree!")); err != nil {
			return false, err
		}
		if d.Agree {
			if d.AgeConfirmed, err = r.yesNo(say(lang, "age?", p.Principal.Name, r.minAge), say(lang, "age!")); err != nil {
				return false, err
			}
		}
	}
	if _, err := r.call.Decide(p.ID, d); err != nil {
		return false, err
	}
	if !d.Agree || !d.AgeConfirmed {
		fmt.Fprintln(r.e.stdout, say(lang, "notagreed", p.Principal.Name))
		return false, nil
	}
	fmt.Fprintln(r.e.stdout, say(lang, "agreed", p.Principal.Name))
	return true, nil
}

func cmdRecord(e *env, args []string) int {
	fs := flags(e, "record")
	title := fs.String("title", "", "title of the recording (default: \"Call\" and the date)")
	input := fs.String("input", "", "microphone: a name or index from 'assent devices', or pulse:SOURCE (default: settings, else the default input)")
	callInput := fs.String("call-input", "", "the other side of the call, recorded as the right channel: a device from 'assent devices', app (only the sound of the call app using the microphone), app:NAME (only that app's, e.g. app:Zoom), output (everything this computer plays), or none (default: settings, else output)")
	dur := fs.Duration("duration", 0, "stop after this long, e.g. 30m (default: until stopped)")
	lang := fs.String("lang", "", "notice language for participants without [lang] (default: settings, else en)")
	verbal := fs.Bool("verbal", false, "the host (the first participant) answers on screen, reads the notice aloud to the others and types their spoken answers; their consent is recorded as verbal, attested by the host")
	noChime := fs.Bool("no-chime", false, "do not play the start/pause/stop chime")
	var specs stringList
	fs.Var(&specs, "participant", "a participant: \"Name\", \"Name <email>\", optionally followed by a language like [nl] (repeat for each; the first is the host)")
	if c := parse(fs, args); c >= 0 {
		return c
	}
	durSet := false
	fs.Visit(func(f *flag.Flag) { durSet = durSet || f.Name == "duration" })
	if durSet && *dur <= 0 {
		return fail(e, ExitUsage, "--duration %s: give a positive length such as 30m or 1h30m (leave it out to record until you stop)", *dur)
	}
	if fs.NArg() > 0 {
		return fail(e, ExitUsage, "unexpected argument %q; participants go with --participant", fs.Arg(0))
	}
	if len(specs) == 0 {
		return fail(e, ExitUsage, "name at least one participant with --participant \"Name <email>\" (include yourself: everyone on the call must agree)")
	}
	if *verbal && len(specs) < 2 {
		return fail(e, ExitUsage, "--verbal needs the host (the first --participant) and at least one other participant: the host attests the others' spoken answers, never their own")
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
	set, _, _, err := workspace.NoticesAt(cfg, config.Path())
	if err != nil {
		return fail(e, ExitFailed, "nothing was recorded: %v", err)
	}
	if defLang == "" || set.Texts[defLang] == nil {
		if *lang != "" {
			return fail(e, ExitUsage, "the notice is not available in %q; available: %s", *lang, strings.Join(set.Langs(), ", "))
		}
		defLang = "en"
	}
	var people []consent.Principal
	var vparts []vault.Participant
	for _, s := range specs {
		p, err := parseParticipant(s, defLang)
		if err != nil {
			return fail(e, ExitUsage, "%v", err)
		}
		if set.Texts[p.Lang] == nil {
			return fail(e, ExitUsage, "the notice is not available in %q (for %s); available: %s", p.Lang, p.Name, strings.Join(set.Langs(), ", "))
		}
		people = append(people, p)
		vparts = append(vparts, vault.Participant{Name: p.Name, Email: p.Email})
	}
	if *title == "" {
		*title = "Call " + time.Now().Format("2006-01-02 15:04")
	}
	src, err := audio.OpenCapture(captureConfig(e, cfg, *input, *callInput)) // devices.go
	if err != nil {
		return fail(e, ExitFailed, "%v", captureError(err))
	}
	sayCallAudio(e, src) // devices.go
	w, err := ws.vault.Create(vault.NewRecording{Title: *title, Participants: vparts})
	if err != nil {
		src.Close()
		return fail(e, ExitFailed, "%v", err)
	}
	id := w.ID()

	chimes := &chimePlayer{e: e, on: cfg.Chime && !*noChime, beep: cfg.Beep}
	call, ids, err := recording.Begin(recording.Config{RecordingID: id, Notices: set, Signer: ws.vault.Signer(),
		Source: src, Store: w, Cue: chimes.cue,
		Discard: func() error { _ = w.Close(); return ws.vault.Delete(id) }}, people)
	if err != nil {
		src.Close()
		return fail(e, ExitFailed, "%v", err)
	}
	warnSilentSide(e, call) // devices.go
	con := newConsole(e)
	defer con.close()
	con.done = call.Done()
	if *dur > 0 {
		con.stop = time.After(*dur)
	}
	r := &recorder{e: e, con: con, call: call, set: set, minAge: set.Org.MinAge, verbal: *verbal, hostLang: people[0].Lang}
	if _, err := call.RequestRecording(); err != nil {
		return r.finish(id, ws, chimes, err)
	}
	fmt.Fprintf(e.stdout, "Assent will record \"%s\" only after all %d participants agreed.\n", *title, len(ids))
	for _, p := range call.State().Participants {
		ok, err := r.ask(p)
		if err != nil || !ok {
			return r.finish(id, ws, chimes, err)
		}
	}
	return r.finish(id, ws, chimes, r.loop())
}

const commandHelp = "commands: 'w WHO' withdraw (number, first name or full name; stops at once), 'j NAME [<email>] [lang]' someone joined, 'l' list, 'p' pause, 'r' resume, 's' stop"

// loop runs while recording: it handles commands until stopped.
func (r *recorder) loop() error {
	st := r.call.State()
	if st.GateOpen {
		fmt.Fprintln(r.e.stdout, "● recording started. "+commandHelp+".")
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
		case "l", "list":
			fmt.Fprintln(r.e.stdout, r.list())
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
			p, err := r.call.Find(arg)
			if err != nil {
				fmt.Fprintf(r.e.stdout, "%v\n%s\n", err, r.list())
				continue
			}
			method := consent.OnScreen
			if r.verbal {
				method = consent.VerbalAttested
			}
			if _, err := r.call.WithdrawBy(p.ID, method); err != nil {
				return err
			}
			return nil
		case "j", "join":
			p, err := parseParticipant(arg, r.hostLang)
			if err != nil {
				fmt.Fprintln(r.e.stdout, err)
				continue
			}
			if r.set.Texts[p.Lang] == nil {
				fmt.Fprintf(r.e.stdout, "no notice in %q; available: %s\n", p.Lang, strings.Join(r.set.Langs(), ", "))
				continue
			}
			// The gate closes in this very call, before anything is shown.
			pid, rejoined, st, err := r.call.Joined(p)
			if errors.Is(err, recording.ErrAlreadyPresent) {
				fmt.Fprintf(r.e.stdout, "%s is already on the call.\n", p.Name)
				continue
			}
			if err != nil {
				return err
			}
			if rejoined && st.GateOpen {
				fmt.Fprintf(r.e.stdout, "%s is back; they agreed earlier in this call. ● recording continues.\n", p.Name)
				continue
			}
			fmt.Fprintf(r.e.stdout, "❚❚ %s joined — recording paused until they agree.\n", p.Name)
			var joiner consent.ParticipantState
			for _, x := range st.Participants {
				if x.ID == pid {
					joiner = x
				}
			}
			if joiner.Consent != consent.StatusGiven {
				ok, err := r.ask(joiner)
				if err != nil || !ok {
					return err
				}
			}
			if r.call.State().GateOpen {
				fmt.Fprintln(r.e.stdout, "● recording resumed.")
			}
		default:
			fmt.Fprintln(r.e.stdout, commandHelp)
		}
	}
}

// list numbers the participants as 'w' accepts them.
func (r *recorder) list() string {
	var b strings.Builder
	b.WriteString("participants:")
	for i, p := range r.call.State().Participants {
		state := "not present"
		if p.Present {
			state = strings.TrimPrefix(string(p.Consent), "Consent")
		}
		fmt.Fprintf(&b, "\n  %d. %s (%s)", i+1, p.Principal.Name, strings.ToLower(state))
	}
	return b.String()
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
	out := r.call.Outcome()
	who := out.Who
	secs := float64(st.Offset) / audio.SampleRate
	if !out.Kept {
		// Nothing was recorded; recording.Call removed the empty recording.
		switch {
		case out.Reason == recording.RefusedBy:
			return fail(r.e, ExitRefused, "%s did not agree — nothing was recorded", who)
		case cause != nil:
			return fail(r.e, ExitFailed, "nothing was recorded: %v", cause)
		case out.Reason == recording.WithdrawnBy:
			return fail(r.e, ExitRefused, "%s withdrew — nothing was recorded", who)
		default:
			return fail(r.e, ExitRefused, "stopped before everyone agreed — nothing was recorded")
		}
	}
	switch out.Reason {
	case recording.WithdrawnBy:
		fmt.Fprintf(r.e.stdout, "■ %s withdrew consent — recording stopped at once.\n", who)
	case recording.RefusedBy:
		fmt.Fprintf(r.e.stdout, "■ %s did not agree — recording stopped; nothing of them was recorded.\n", who)
	default:
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
