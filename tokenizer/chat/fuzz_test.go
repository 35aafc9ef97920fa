package chat

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseRender feeds arbitrary template bytes to Parse and Render: they
// must return an error or a result, never panic or run away.
func FuzzParseRender(f *testing.F) {
	for _, s := range []string{
		"",
		"plain text",
		"{{ messages[0].content|trim }}",
		"{% for m in messages %}{{ loop.index }}{{ m.role }}{% else %}none{% endfor %}",
		"{% set ns = namespace(a=0) %}{% for i in range(3) %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}",
		"{% macro m(x, y=2) %}{{ x ~ y }}{{ caller() if caller is defined }}{% endmacro %}{{ m(1) }}{% call m(3) %}c{% endcall %}",
		"{%- if tools %}{{ tools|tojson(indent=2) }}{% elif x is not defined %}{{ 'u' }}{% endif -%}",
		"{{ 'a\\u00e9\\x41'[::-1] ~ (1 / 3) ~ [1, {'k': none}] }}",
		"{% raw %}{{ raw }}{% endraw %}{# comment #}",
		"{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(1) }}",
		"{% set ns = namespace(v=[]) %}{% for i in range(60) %}{% set ns.v = [ns.v, ns.v] %}{% endfor %}{{ ns.v == ns.v }}{{ ns.v|tojson }}",
		"{% set ns = namespace() %}{% set ns.a = ns %}{% set ns.b = ns %}{{ ns }}",
		"{{ 'x' * 99999999999 }}{{ range(99999999999) }}",
		"{{ (((((((((1))))))))) }}{{ -(-(-1)) }}",
		"\xff\xfe{{ '\xff' }}{% if \xff %}",
		"{% for a, b in [[1, 2], 'ab'] if a %}{{ a }}{{ b }}{% break %}{% endfor %}",
		"{{ x.y.z }}{{ 1 + 'a' }}",
	} {
		f.Add(s)
	}
	if data, err := os.ReadFile(filepath.Join("testdata", "qwen2_5.jinja")); err == nil {
		f.Add(string(data))
	}
	vars := map[string]any{
		"messages": []any{
			map[string]any{"role": "system", "content": "sys"},
			map[string]any{"role": "user", "content": "hi <tool_response>"},
			map[string]any{"role": "assistant", "content": "<think>r</think>a", "tool_calls": []any{
				map[string]any{"function": map[string]any{"name": "f", "arguments": map[string]any{"x": 1}}},
			}},
		},
		"tools":                 []any{map[string]any{"type": "function", "function": map[string]any{"name": "f"}}},
		"add_generation_prompt": true,
		"bos_token":             "<s>",
	}
	f.Fuzz(func(t *testing.T, src string) {
		tm, err := Parse(src)
		if err != nil {
			if tm != nil {
				t.Fatal("Parse returned a template and an error")
			}
			return
		}
		tm.MaxSteps = 200_000
		tm.MaxOutput = 1 << 20
		out, err := tm.Render(vars)
		if err == nil && len(out) > 1<<20 {
			t.Fatalf("output of %d bytes exceeds MaxOutput", len(out))
		}
	})
}
