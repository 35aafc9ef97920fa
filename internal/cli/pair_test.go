package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopard/gopard/internal/defaultmodel"
	"github.com/gopard/gopard/ops"
)

// TestOpenDraft opens the embedded target with its PARD draft, then its
// autoregressive draft against the same target (as eval does for VSD),
// and a directory that holds no model.
func TestOpenDraft(t *testing.T) {
	dirs, err := defaultmodel.Dirs()
	if err != nil {
		t.Skipf("no embedded models: %v", err)
	}
	b := ops.NewCPU(1)
	defer CloseBackend(b)
	tok, err := LoadTokenizer(dirs.Target)
	if err != nil {
		t.Fatal(err)
	}
	p, err := OpenPair(dirs.Target, dirs.PARD, tok, b, b, 64, true)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.DraftInfo.PardToken < 0 || p.DraftInfo.Name != dirs.PARD {
		t.Fatalf("PARD draft info %+v", p.DraftInfo)
	}
	ar, info, err := p.OpenDraft(dirs.Draft, b, 64, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	if info.Name != dirs.Draft || info.PardToken >= 0 || info.VocabSize != p.TargetInfo.VocabSize {
		t.Fatalf("AR draft info %+v (target %+v)", info, p.TargetInfo)
	}
	missing := filepath.Join(t.TempDir(), "none")
	if _, _, err := p.OpenDraft(missing, b, 64, true); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("a directory without a model: %v", err)
	}
}
