package cli

import (
	"fmt"
	"os"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
)

func init() {
	commands["verify"] = command{"check a recording's consent record: chain, signature, every second covered",
		"assent verify ID [--record FILE]", cmdVerify}
}

func cmdVerify(e *env, args []string) int {
	fs := flags(e, "verify")
	file := fs.String("record", "", "verify an exported consent-record.json instead of a recording in the library")
	if c := parse(fs, args); c >= 0 {
		return c
	}
	var data []byte
	var err error
	ws, s, code := openRecording(e, fs.Arg(0))
	if *file != "" && fs.NArg() == 0 {
		return fail(e, ExitUsage, "name the recording the record belongs to, too: assent verify ID --record FILE")
	}
	if code >= 0 {
		return code
	}
	if *file != "" {
		data, err = os.ReadFile(*file)
	} else {
		data, err = ws.vault.Record(s.ID)
	}
	if err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	if data == nil {
		return fail(e, ExitFailed, "recording %s has no consent record", s.ID)
	}
	proof, err := consent.Verify(data, ws.vault.SigningPublicKey())
	for _, old := range ws.vault.PreviousSigningPublicKeys() {
		if err == nil {
			break
		}
		proof, err = consent.Verify(data, old)
	}
	if err != nil {
		return fail(e, ExitFailed, "the consent record of %s does NOT verify: %v", s.ID, err)
	}
	if err := proof.Expect(s.ID); err != nil {
		return fail(e, ExitFailed, "%v", err)
	}
	state := "final"
	if proof.Recovered {
		state = "closed after a crash (recovered)"
	} else if !proof.Final {
		state = "not final (recording in progress)"
	}
	fmt.Fprintf(e.stdout, "✓ consent record %s verifies: hash chain and device signature intact, %s\n", proof.RecordID, state)
	for i, sp := range proof.Spans {
		fmt.Fprintf(e.stdout, "  span %d  %s – %s  ", i+1, clock(float64(sp.From)/audio.SampleRate), clock(float64(sp.To)/audio.SampleRate))
		for j, p := range sp.Participants {
			if j > 0 {
				fmt.Fprint(e.stdout, ", ")
			}
			fmt.Fprintf(e.stdout, "%s (%s, notice %s v%s %s)", p.Name, p.Method, p.Notice.ID, p.Notice.Version, p.Notice.Lang)
		}
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintf(e.stdout, "every one of %s recorded is covered by the consent of everyone present\n", clock(float64(proof.FinalOffset)/audio.SampleRate))
	return ExitOK
}
