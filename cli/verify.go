package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/assent-app/assent/audio"
	"github.com/assent-app/assent/consent"
	"github.com/assent-app/assent/vault"
)

func init() {
	commands["verify"] = command{"check a recording's consent record (chain, signature, every second covered) and its audio against it",
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
	if proof.Record.Format == consent.FormatV1 {
		fmt.Fprintf(e.stdout, "note: this record has the older format %s, which does not bind the audio; the audio was not checked against it\n", consent.FormatV1)
		return ExitOK
	}
	frames, err := checkAudio(ws.vault, s.ID, proof)
	if err != nil {
		return fail(e, ExitFailed, "the audio of %s does NOT match its consent record: %v", s.ID, err)
	}
	fmt.Fprintf(e.stdout, "✓ audio: %d sealed segments, each one's SHA-256, size and granule positions match the record; it decodes to %s\n",
		len(proof.Segments), clock(float64(frames)/audio.SampleRate))
	return ExitOK
}

// checkAudio compares the sealed audio in the vault with the segments the
// record lists: the same segments (all of them once the record is final),
// each file's SHA-256 and size, each segment's last granule position minus
// the Opus pre-skip equal to its end offset, and the whole stream decoding
// to the audio the record covers (up to the encoder's pre-skip fewer frames
// when a crash cut the stream before its final flush). It returns the
// decoded frames.
func checkAudio(v *vault.Vault, id string, proof *consent.Proof) (int64, error) {
	files, err := v.Segments(id)
	if err != nil {
		return 0, err
	}
	listed := proof.Segments
	if len(files) > len(listed) {
		return 0, fmt.Errorf("the vault holds %d sealed segments, the record lists only %d (segment %d is not bound to it)", len(files), len(listed), len(listed)+1)
	}
	if len(files) < len(listed) {
		if proof.Final {
			return 0, fmt.Errorf("the record lists %d segments, the vault holds only %d (segment %d is missing)", len(listed), len(files), len(files)+1)
		}
		listed = listed[:len(files)] // still recording: the record runs ahead of the metadata
	}
	if len(files) == 0 {
		return 0, nil
	}
	st, err := v.OpenStream(id)
	if err != nil {
		return 0, err
	}
	or, err := audio.NewOpusReader(st)
	st.Close()
	if err != nil {
		return 0, fmt.Errorf("the stream does not start with Opus headers: %w", err)
	}
	preSkip := int64(or.Head.PreSkip)
	for i, f := range files {
		want := listed[i]
		if f.Index != want.Index {
			return 0, fmt.Errorf("segment %d is listed as segment %d in the record", f.Index, want.Index)
		}
		ct, err := os.ReadFile(f.Path)
		if err != nil {
			return 0, fmt.Errorf("segment %d cannot be read: %w", f.Index, err)
		}
		sum := sha256.Sum256(ct)
		if hex.EncodeToString(sum[:]) != want.SHA256 || int64(len(ct)) != want.Size {
			return 0, fmt.Errorf("segment %d's ciphertext (%d bytes) is not the one the record lists (SHA-256 or size differ)", f.Index, len(ct))
		}
		last, err := lastGranule(v, id, f.Index)
		if err != nil {
			return 0, err
		}
		end := max(last-preSkip, want.Start)
		if last < 0 {
			end = want.Start
		}
		if end != want.End {
			return 0, fmt.Errorf("segment %d's audio ends at %s (granule %d, pre-skip %d), the record says %s",
				f.Index, clock(float64(end)/audio.SampleRate), last, preSkip, clock(float64(want.End)/audio.SampleRate))
		}
	}
	st, err = v.OpenStream(id)
	if err != nil {
		return 0, err
	}
	pcm, err := audio.DecodeOggOpus(st)
	st.Close()
	if err != nil {
		return 0, fmt.Errorf("the audio does not decode: %w", err)
	}
	// The encoder holds the last pre-skip frames; a stream cut by a crash
	// (no final flush packet) decodes to up to pre-skip frames fewer than
	// its last granule position says. Nothing beyond it may decode.
	frames := int64(pcm.Frames())
	if end := listed[len(listed)-1].End; frames > end || frames < end-preSkip {
		return frames, fmt.Errorf("the audio decodes to %d frames, the record's segments end at %d", frames, end)
	}
	return frames, nil
}

// lastGranule returns the granule position of the last page of segment n
// on which a packet ends (-1 if none).
func lastGranule(v *vault.Vault, id string, n int) (int64, error) {
	rc, err := v.OpenSegment(id, n)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	or := audio.NewOggReader(rc)
	last := int64(-1)
	for {
		pg, err := or.ReadPage()
		if errors.Is(err, io.EOF) {
			return last, nil
		}
		if err != nil {
			return 0, fmt.Errorf("segment %d is not whole Ogg pages: %w", n, err)
		}
		if pg.Granule >= 0 {
			last = pg.Granule
		}
	}
}
