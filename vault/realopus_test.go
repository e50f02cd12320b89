package vault

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI (scripts/deps.sh installs it)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// splitPages cuts an Ogg file into its pages.
func splitPages(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var pages [][]byte
	for len(data) > 0 {
		nseg := int(data[26])
		n := 27 + nseg
		for _, l := range data[27 : 27+nseg] {
			n += int(l)
		}
		pages = append(pages, data[:n])
		data = data[n:]
	}
	return pages
}

// A real Ogg Opus file (opusenc) stored page by page in 2-page segments:
// the decrypted stream is the same file, ffprobe and opusinfo accept the
// export, and the vault's duration matches ffprobe's.
func TestRealOggOpusSurvivesSegmentingAndExport(t *testing.T) {
	sox, opusenc, ffprobe := needTool(t, "sox"), needTool(t, "opusenc"), needTool(t, "ffprobe")
	dir := t.TempDir()
	wav, src := filepath.Join(dir, "tone.wav"), filepath.Join(dir, "tone.opus")
	if out, err := exec.Command(sox, "-n", "-r", "48000", "-c", "1", "-b", "16", wav, "synth", "7.5", "sine", "440", "vol", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	if out, err := exec.Command(opusenc, "--quiet", "--bitrate", "24", "--max-delay", "1000", wav, src).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v %s", err, out)
	}
	data, _ := os.ReadFile(src)
	pages := splitPages(t, data)
	if len(pages) < 5 {
		t.Fatalf("opusenc wrote only %d pages", len(pages))
	}
	v, _ := openVault(t, t.TempDir(), newMemStore())
	w, _ := v.Create(NewRecording{Title: "tone"})
	for i, p := range pages {
		if err := w.WritePage(p); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if err := w.Seal(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readStream(t, v, w.ID()); !bytes.Equal(got, data) {
		t.Fatal("decrypted segments differ from the Ogg Opus file")
	}
	out := filepath.Join(dir, "export")
	if _, err := v.Export(w.ID(), out, nil); err != nil {
		t.Fatal(err)
	}
	exp := filepath.Join(out, "tone.opus")
	res, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", exp).Output()
	if err != nil {
		t.Fatalf("ffprobe rejects the export: %v", err)
	}
	dur, err := strconv.ParseFloat(strings.TrimSpace(string(res)), 64)
	if err != nil || dur < 7.4 || dur > 7.6 {
		t.Fatalf("ffprobe duration %q", res)
	}
	s, _ := v.Get(w.ID())
	if d := s.Duration.Seconds(); d < dur-0.02 || d > dur+0.02 {
		t.Fatalf("vault says %.3f s, ffprobe %.3f s", d, dur)
	}
	if oi, err := exec.LookPath("opusinfo"); err == nil {
		if out, err := exec.Command(oi, exp).CombinedOutput(); err != nil || bytes.Contains(out, []byte("WARNING")) {
			t.Fatalf("opusinfo: %v\n%s", err, out)
		}
	}
}
