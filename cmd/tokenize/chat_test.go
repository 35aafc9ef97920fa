package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopard/gopard/internal/shareddata"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chatDataDir walks up to a directory holding shared/data.
func chatDataDir(t *testing.T) string {
	return shareddata.Dir(t)
}

func TestChatMode(t *testing.T) {
	data := chatDataDir(t)
	f, err := os.Open(filepath.Join(data, "chat_templates", "cases.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	tmp := t.TempDir()
	n := 0
	for sc.Scan() {
		n++
		var c map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &c))
		var tok, want string
		require.NoError(t, json.Unmarshal(c["tokenizer"], &tok))
		require.NoError(t, json.Unmarshal(c["rendered"], &want))
		// The request is the case line itself: extra keys are passed to the
		// template as variables and these templates do not read them.
		req := filepath.Join(tmp, "req.json")
		require.NoError(t, os.WriteFile(req, sc.Bytes(), 0o644))
		code, out, errOut := runCmd([]string{"--tokenizer", filepath.Join(data, "tokenizers", tok), "--chat", req}, "")
		assert.Equal(t, 0, code, errOut)
		assert.Equal(t, want, out, "case %d (%s)", n, tok)
	}
	require.NotZero(t, n)

	code, _, errOut := runCmd([]string{"--tokenizer", filepath.Join(data, "tokenizers", "qwen3"), "--chat", filepath.Join(tmp, "missing.json")}, "")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "missing.json")
	code, _, _ = runCmd([]string{"--tokenizer", filepath.Join(data, "tokenizers", "qwen3"), "--chat", "x", "--decode"}, "")
	assert.Equal(t, 2, code)
}
