package chat

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, src string) *Template {
	t.Helper()
	tm, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return tm
}

func render(t *testing.T, src string, vars map[string]any) string {
	t.Helper()
	out, err := mustParse(t, src).Render(vars)
	if err != nil {
		t.Fatalf("Render(%q): %v", src, err)
	}
	return out
}

func jsonVars(t *testing.T, s string) map[string]any {
	t.Helper()
	v, err := DecodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{}
	m := v.(*Map)
	for i, k := range m.keys {
		vars[k.(string)] = m.vals[i]
	}
	return vars
}

// TestJinjaCases compares against outputs of Python's jinja2.
func TestJinjaCases(t *testing.T) {
	for i, c := range jinjaCases {
		tm, err := Parse(c.tmpl)
		if err != nil {
			t.Errorf("#%d Parse(%q): %v", i, c.tmpl, err)
			continue
		}
		tm.Now = func() time.Time { return time.Date(2026, 11, 25, 14, 5, 9, 0, time.UTC) }
		got, err := tm.Render(jsonVars(t, c.vars))
		if err != nil {
			t.Errorf("#%d Render(%q): %v", i, c.tmpl, err)
			continue
		}
		if got != c.want {
			t.Errorf("#%d %q:\n got %q\nwant %q", i, c.tmpl, got, c.want)
		}
	}
}

// TestTemplatesGolden renders Qwen2.5-, DeepSeek-R1-Distill- and
// Llama-3.2-style templates (testdata/*.jinja) against jinja2 outputs.
func TestTemplatesGolden(t *testing.T) {
	f, err := os.Open("testdata/templates.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	n := 0
	for sc.Scan() {
		n++
		v, err := DecodeJSON(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		c := v.(*Map)
		name, _ := c.Get("template")
		src, err := os.ReadFile(filepath.Join("testdata", name.(string)))
		if err != nil {
			t.Fatal(err)
		}
		tm := mustParse(t, string(src))
		tm.Now = func() time.Time { return time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) }
		sp, _ := c.Get("specials")
		specials := map[string]string{}
		for _, k := range sp.(*Map).Keys() {
			s, _ := sp.(*Map).Get(k)
			specials[k] = s.(string)
		}
		req, _ := c.Get("request")
		var b strings.Builder
		if err := writeJSON(&b, req, &jsonOpts{itemSep: ", ", keySep: ": ", limit: 1 << 30}, 0); err != nil {
			t.Fatal(err)
		}
		got, err := RenderRequest(tm, []byte(b.String()), specials)
		if want, ok := c.Get("rendered"); ok {
			if err != nil {
				t.Errorf("case %d (%s): %v", n, name, err)
			} else if got != want.(string) {
				t.Errorf("case %d (%s):\n got %q\nwant %q", n, name, got, want)
			}
			continue
		}
		wantErr, _ := c.Get("error")
		var re *RaisedError
		if !errors.As(err, &re) || re.Msg != wantErr.(string) {
			t.Errorf("case %d (%s): got error %v, want raise_exception(%q)", n, name, err, wantErr)
		}
	}
	if n == 0 {
		t.Fatal("no golden cases")
	}
}

func TestTrimAndLstripBlocks(t *testing.T) {
	cases := []struct{ src, want string }{
		// lstrip_blocks removes the indentation before a block tag,
		// trim_blocks the newline after it.
		{"<ul>\n    {% for x in [1, 2] %}\n    <li>{{ x }}</li>\n    {% endfor %}\n</ul>", "<ul>\n    <li>1</li>\n    <li>2</li>\n</ul>"},
		// not applied to {{ }}, and not when text precedes the tag on its line
		{"a\n  {{ 'v' }}\n", "a\n  v"},
		{"x {% if true %}y{% endif %} z", "x y z"},
		// comments are stripped like blocks
		{"a\n  {# note #}\nb", "a\nb"},
		// + disables lstrip (before) and trim (after)
		{"  {%+ if true +%}\nx{% endif %}", "  \nx"},
		// one trailing newline of the template is dropped
		{"hi\n", "hi"},
		{"hi\n\n", "hi\n"},
		// CRLF is normalized
		{"a\r\nb", "a\nb"},
	}
	for _, c := range cases {
		if got := render(t, c.src, nil); got != c.want {
			t.Errorf("%q: got %q want %q", c.src, got, c.want)
		}
	}
}

func TestWhitespaceControl(t *testing.T) {
	cases := []struct{ src, want string }{
		{"a  \n  {{- 'b' -}}  \n  c", "abc"},
		{"a \n {%- if true -%} \n b \n {%- endif -%} \n c", "abc"},
		{"a  {#- c -#}  b", "ab"},
		{"{{ 'a' }}  {{- 'b' }}", "ab"},
		{"{{ 'a' -}}\n\n{{ 'b' }}", "ab"},
	}
	for _, c := range cases {
		if got := render(t, c.src, nil); got != c.want {
			t.Errorf("%q: got %q want %q", c.src, got, c.want)
		}
	}
}

func TestLoopVariables(t *testing.T) {
	got := render(t, "{% for x in items %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.length }}/{{ loop.first }}/{{ loop.last }} {% endfor %}",
		map[string]any{"items": []string{"a", "b"}})
	if want := "1/0/2/2/True/False 2/1/1/2/False/True "; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	// filtered loop: loop.* refer to the filtered items
	got = render(t, "{% for m in msgs if m.role != 'system' %}{{ loop.index }}:{{ m.content }}{{ ',' if not loop.last }}{% endfor %}",
		map[string]any{"msgs": []Message{{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}}})
	if want := "1:u,2:a"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	// Jinja runs for-else unless an iteration reaches the end of the body
	for src, want := range map[string]string{
		"{% for x in [] %}x{% else %}E{% endfor %}":                                                "E",
		"{% for x in [1, 2] %}{{ x }}{% else %}E{% endfor %}":                                      "12",
		"{% for x in [1, 2] %}{{ x }}{% break %}{% else %}E{% endfor %}":                           "1E",
		"{% for x in [1, 2] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% else %}E{% endfor %}": "1",
		"{% for a, b in {'k': 'v'}.items() %}{{ a }}={{ b }}{% endfor %}":                          "k=v",
	} {
		if got := render(t, src, nil); got != want {
			t.Errorf("%q: got %q want %q", src, got, want)
		}
	}
}

func TestNamespaceAndScoping(t *testing.T) {
	src := "{% set ns = namespace(n=0, last='') %}{% set plain = 0 %}" +
		"{% for m in msgs %}{% set ns.n = ns.n + 1 %}{% set ns.last = m %}{% set plain = plain + 1 %}{% endfor %}" +
		"{{ ns.n }} {{ ns.last }} {{ plain }}"
	got := render(t, src, map[string]any{"msgs": []string{"a", "b", "c"}})
	if want := "3 c 0"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	// set on a non-namespace is an error
	if _, err := mustParse(t, "{% set x = 1 %}{% set x.y = 2 %}").Render(nil); err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Errorf("want a namespace error, got %v", err)
	}
	// Jinja frames: a name assigned later at top level is undefined in an
	// earlier loop, even when the context has it.
	got = render(t, "{% for i in [1] %}[{{ x }}]{% endfor %}{% set x = 'set' %}{{ x }}", map[string]any{"x": "ctx"})
	if want := "[]set"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	// ... but an assignment inside an if keeps the context value visible
	got = render(t, "{% for i in [1] %}[{{ x }}]{% endfor %}{% if true %}{% set x = 'set' %}{% endif %}{{ x }}", map[string]any{"x": "ctx"})
	if want := "[ctx]set"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestMacros(t *testing.T) {
	cases := []struct{ src, want string }{
		{"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}", "Hi A! Hi B? Hi C."},
		{"{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}", "120"},
		{"{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}inside{% endcall %}", "[inside]"},
		{"{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}<{{ v }}>{% endcall %}", "<1><2>"},
		{"{% macro m() %}{{ varargs|length }}{{ kwargs.k }}{% endmacro %}{{ m(1, 2, k='v') }}", "2v"},
	}
	for _, c := range cases {
		if got := render(t, c.src, nil); got != c.want {
			t.Errorf("%q: got %q want %q", c.src, got, c.want)
		}
	}
}

func TestFilters(t *testing.T) {
	vars := map[string]any{"msgs": []Message{{"role": "system", "content": " sys "}, {"role": "user", "content": "hi"}}}
	cases := []struct{ src, want string }{
		{"{{ '  x  '|trim }}|{{ 'xyx'|trim('x') }}", "x|y"},
		{"{{ msgs|length }} {{ 'héllo'|length }} {{ msgs|count }}", "2 5 2"},
		{"{{ 'Ab'|lower }}{{ 'Ab'|upper }}{{ 3|string ~ 'x' }}", "abAB3x"},
		{"{{ msgs|first|attr('items') is callable }} {{ (msgs|last).role }}", "True user"},
		{"{{ undefined_var|default('d') }} {{ ''|default('e', true) }} {{ 0|default(5) }}", "d e 0"},
		{"{{ ['a', 'b']|join('-') }} {{ msgs|map(attribute='role')|join(',') }}", "a-b system,user"},
		{"{{ 'abc'|list }} {{ {'k': 1}|items|list|length }}", "['a', 'b', 'c'] 1"},
		{"{{ 'a-a'|replace('-', '+') }} {{ '12'|int + 1 }} {{ 'x'|int(7) }} {{ '2.5'|float * 2 }}", "a+a 13 7 5.0"},
		{"{{ msgs|selectattr('role', 'equalto', 'user')|list|length }} {{ [1, 2, 3, 4]|reject('odd')|list }}", "1 [2, 4]"},
		{"{{ [3, 1, 2]|sort|join }} {{ [1, 1, 2]|unique|list }} {{ [1, 2]|sum }} {{ [4, 9]|max }}", "123 [1, 2] 3 9"},
		{"{{ 'a\nb'|indent(2) }}|{{ 'a b'|title }}|{{ 'hI'|capitalize }}", "a\n  b|A B|Hi"},
	}
	for _, c := range cases {
		if got := render(t, c.src, vars); got != c.want {
			t.Errorf("%q: got %q want %q", c.src, got, c.want)
		}
	}
	// unknown filters and tests are parse errors naming the filter
	for src, name := range map[string]string{"{{ x|frobnicate }}": "frobnicate", "{{ x is frob }}": "frob"} {
		_, err := Parse(src)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), ":1:") {
			t.Errorf("%q: want an error naming %q with a position, got %v", src, name, err)
		}
	}
}

func TestTojson(t *testing.T) {
	req := `{"messages": [], "tools": [{"z": 1, "a": {"name": "Zürich ☃", "q": "say \"hi\"\n", "n": null, "f": 1.5, "i": 10, "b": true, "e": [], "o": {}}}]}`
	tm := mustParse(t, "{{ tools[0]|tojson }}")
	got, err := RenderRequest(tm, []byte(req), nil)
	if err != nil {
		t.Fatal(err)
	}
	// key order is kept, unicode is not escaped, separators are ", " and ": "
	want := `{"z": 1, "a": {"name": "Zürich ☃", "q": "say \"hi\"\n", "n": null, "f": 1.5, "i": 10, "b": true, "e": [], "o": {}}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	got = render(t, "{{ {'b': [1, 2], 'a': 'é'}|tojson(indent=2, sort_keys=true) }}", nil)
	if want := "{\n  \"a\": \"é\",\n  \"b\": [\n    1,\n    2\n  ]\n}"; got != want {
		t.Errorf("indent: got %q want %q", got, want)
	}
	if _, err := mustParse(t, "{{ nothing|tojson }}").Render(nil); err == nil {
		t.Error("tojson of an undefined value must fail")
	}
}

func TestRaiseException(t *testing.T) {
	tm := mustParse(t, "{% if messages|length == 0 %}\n  {{ raise_exception('need at least one message') }}\n{% endif %}ok")
	_, err := tm.Render(map[string]any{"messages": []any{}})
	var re *RaisedError
	if !errors.As(err, &re) {
		t.Fatalf("want *RaisedError, got %T %v", err, err)
	}
	if re.Msg != "need at least one message" || re.Line != 2 {
		t.Errorf("got %+v", re)
	}
	if out, err := tm.Render(map[string]any{"messages": []any{1}}); err != nil || out != "ok" {
		t.Errorf("got %q, %v", out, err)
	}
}

func TestUndefined(t *testing.T) {
	cases := []struct{ src, want string }{
		{"[{{ missing }}]", "[]"},
		{"{{ missing is defined }} {{ missing is not defined }} {{ missing|length }}", "False True 0"},
		{"{% if missing %}y{% else %}n{% endif %}{% for x in missing %}x{% endfor %}", "n"},
		{"{{ m.nokey is defined }} {{ m.role }} {{ m['nokey'] is defined }}", "False user False"},
		{"{{ 'x' in missing }} {{ missing ~ 'a' }}", "False a"},
		{"{{ l[10] is defined }} {{ l[-1] }}", "False 2"},
	}
	vars := map[string]any{"m": Message{"role": "user"}, "l": []int{1, 2}}
	for _, c := range cases {
		if got := render(t, c.src, vars); got != c.want {
			t.Errorf("%q: got %q want %q", c.src, got, c.want)
		}
	}
	for _, src := range []string{"{{ missing.attr }}", "{{ missing + 1 }}", "{{ missing() }}", "{{ missing['k'] }}", "{{ m.nokey.deeper }}"} {
		_, err := mustParse(t, src).Render(vars)
		if err == nil || !strings.Contains(err.Error(), "undefined") && !strings.Contains(err.Error(), "no attribute") {
			t.Errorf("%q: want an undefined error, got %v", src, err)
		}
	}
}

func TestUnsupportedConstructs(t *testing.T) {
	cases := []struct{ src, want string }{
		{"{% extends 'base.html' %}", "1:4: unsupported tag 'extends'"},
		{"x\n{% include 'a' %}", "2:4: unsupported tag 'include'"},
		{"{% import 'm' as m %}", "unsupported tag 'import'"},
		{"{% block b %}{% endblock %}", "unsupported tag 'block'"},
		{"{% for x in y recursive %}{% endfor %}", "recursive"},
		{"{% frobnicate %}", "unknown tag 'frobnicate'"},
		{"{{ f(*args) }}", "*args"},
		{"{{ x|wordwrap }}", "unsupported filter 'wordwrap'"},
		{"{% if x %}", "expected 'endif'"},
		{"{% endfor %}", "unexpected 'endfor'"},
		{"{{ 'abc }}", "unterminated string"},
		{"{# open", "unclosed comment"},
		{"{{ x ) }}", "unexpected ')'"},
		{"{% break %}", "outside of a loop"},
		{"{{ 1 +}}", "unexpected"},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: want error containing %q, got %v", c.src, c.want, err)
		}
		var te *Error
		if err != nil && !errors.As(err, &te) {
			t.Errorf("%q: error is %T, want *Error", c.src, err)
		}
	}
	// runtime: printf-style formatting is not implemented
	if _, err := mustParse(t, "{{ '%s' % 1 }}").Render(nil); err == nil || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("want unsupported '%%' error, got %v", err)
	}
}

func TestLimits(t *testing.T) {
	for _, src := range []string{
		"{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
		"{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}",
		"{% for i in range(1000000) %}{% endfor %}",
		"{{ 'x' * 1000000000 }}",
	} {
		tm := mustParse(t, src)
		tm.MaxSteps = 1_000_000
		if _, err := tm.Render(nil); err == nil {
			t.Errorf("%q: want a limit error", src)
		}
	}
}

func TestTuplesRenderAsLists(t *testing.T) {
	// Jinja would print ('a', 1); tuples are lists here.
	if got := render(t, "{{ {'a': 1}.items()|list }}", nil); got != "[['a', 1]]" {
		t.Errorf("got %q", got)
	}
}

func TestGoValues(t *testing.T) {
	tm := mustParse(t, "{{ bos_token }}{% for m in messages %}<{{ m.role }}:{{ m.content }}>{% endfor %}{{ n + 1 }}{{ f }}{{ m|tojson }}")
	got, err := tm.Render(map[string]any{
		"bos_token": "<s>",
		"messages":  Messages("sys", "hi"),
		"n":         41,
		"f":         float32(0.5),
		"m":         Message{"z": 1, "content": "c", "role": "r"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := `<s><system:sys><user:hi>420.5{"role": "r", "content": "c", "z": 1}`; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	if len(Messages("", "u")) != 1 {
		t.Error("empty system prompt must be omitted")
	}
	if _, err := tm.Render(map[string]any{"messages": make(chan int)}); err == nil {
		t.Error("want an error for an unsupported Go value")
	}
}

func TestRenderRequestOptions(t *testing.T) {
	tm := mustParse(t, "{% for m in messages %}[{{ m.role }}]{{ m.content }}[/]{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}{{ extra }}")
	got, err := RenderRequest(tm, []byte(`{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "partial "}], "continue_final_message": true}`), nil)
	if err != nil || got != "[user]q[/][assistant]partial" {
		t.Errorf("continue_final_message: got %q, %v", got, err)
	}
	got, err = RenderRequest(tm, []byte(`{"messages": [], "add_generation_prompt": true, "extra": "!"}`), nil)
	if err != nil || got != "[assistant]!" {
		t.Errorf("extra keys: got %q, %v", got, err)
	}
	for _, bad := range []string{`[]`, `{"messages": 1}`, `{"messages": [`, `{"messages": []} x`} {
		if _, err := RenderRequest(tm, []byte(bad), nil); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

func TestLoadConfigForms(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tokenizer_config.json", `{"bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>", "pad_token": null,
		"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "{{ bos_token }}D{{ eos_token }}"}]}`)
	tm, sp, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sp["pad_token"]; ok || sp["bos_token"] != "<s>" {
		t.Errorf("specials %v", sp)
	}
	if out, _ := tm.RenderMessages(nil, false, sp); out != "<s>D</s>" {
		t.Errorf("got %q", out)
	}
	write("tokenizer_config.json", `{"eos_token": "</s>"}`)
	write("chat_template.jinja", "J{{ eos_token }}\n")
	tm, sp, err = LoadConfig(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := tm.RenderMessages(nil, false, sp); out != "J</s>" {
		t.Errorf("got %q", out)
	}
	os.Remove(filepath.Join(dir, "chat_template.jinja"))
	if _, _, err := LoadConfig(dir); err == nil {
		t.Error("want an error without any chat template")
	}
}

func TestUnimplementedFilterInUntakenBranch(t *testing.T) {
	// Like Jinja, a filter or test that does not exist is only an error at
	// parse time outside if statements and conditional expressions.
	tm := mustParse(t, "{% if fancy %}{{ x|wordwrap(10) }}{% endif %}{{ 'a' if true else y|center }}ok")
	if out, err := tm.Render(nil); err != nil || out != "aok" {
		t.Errorf("got %q, %v", out, err)
	}
	_, err := tm.Render(map[string]any{"fancy": true})
	if err == nil || !strings.Contains(err.Error(), "1:20: unsupported filter 'wordwrap'") {
		t.Errorf("want a positioned render error, got %v", err)
	}
	if _, err := Parse("{% for x in l %}{{ x is prime }}{% endfor %}"); err == nil || !strings.Contains(err.Error(), "unsupported test 'prime'") {
		t.Errorf("got %v", err)
	}
}

func TestSlicesAndIndexes(t *testing.T) {
	vars := map[string]any{"s": "héllo", "l": []int{1, 2, 3, 4}, "n": 5}
	got := render(t, "{{ s[1:3] }} {{ s[::-1] }} {{ s[-1] }} {{ l[1:] }} {{ l[::-2] }} {{ l[-2:] }} {{ l[10:] }} {{ l[:-10] }}", vars)
	if want := "él olléh o [2, 3, 4] [4, 2] [3, 4] [] []"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	for _, src := range []string{"{{ n[1:] }}", "{{ {'a': 1}[1:] }}", "{{ l[::0] }}"} {
		if _, err := mustParse(t, src).Render(vars); err == nil {
			t.Errorf("%q: want an error", src)
		}
	}
}

func BenchmarkQwen3Render(b *testing.B) {
	data := sharedData(b)
	tm, specials, err := LoadConfig(filepath.Join(data, "tokenizers", "qwen3"))
	if err != nil {
		b.Fatal(err)
	}
	var msgs []Message
	for i := 0; i < 100; i++ {
		msgs = append(msgs, Message{"role": "user", "content": strings.Repeat("question ", 100)},
			Message{"role": "assistant", "content": "<think>\nhmm\n</think>\n\n" + strings.Repeat("answer ", 100)})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tm.RenderMessages(msgs, true, specials); err != nil {
			b.Fatal(err)
		}
	}
}
