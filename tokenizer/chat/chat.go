// Package chat renders Hugging Face chat templates.
//
// A chat template is the Jinja2 program stored under "chat_template" in a
// model's tokenizer_config.json; it turns a list of messages into the prompt
// string the model was trained on. This package implements the subset of
// Jinja2 that real templates (Llama 3.x, Qwen2.5, Qwen3, DeepSeek-R1-Distill
// and similar) use, with the semantics of transformers' apply_chat_template:
// a sandboxed environment with trim_blocks and lstrip_blocks enabled,
// keep_trailing_newline off, the loopcontrols extension (break/continue),
// raise_exception(msg), strftime_now(fmt) and a tojson filter equal to
// Python's json.dumps(x, ensure_ascii=False).
//
// Supported: {{ }}, {% %}, {# #} with -/+ whitespace control; if/elif/else,
// for (loop.*, else, "if" filtering, tuple unpacking), set (plain, tuple,
// namespace attribute, block), macro/call, filter and with blocks,
// break/continue, raw; literals, lists, dicts, attribute/item access,
// slices, calls with keyword arguments, the usual filters, tests, string,
// dict and list methods and all Jinja operators. Values follow Python
// semantics (str() rendering, truthiness, == across int/float, negative
// indexes, Undefined).
//
// Variable scoping follows Jinja's frames (for bodies, macros, ... are
// scopes; if blocks are not; namespace() carries values out of loops).
//
// Not supported (reported as errors naming the construct and its
// position): template inheritance and inclusion (extends, block, include,
// import), recursive loops, autoescape, i18n, printf-style "%" string
// formatting, *args/**kwargs at call sites, and filters and tests outside
// the implemented set (like Jinja, such a filter inside an if statement or
// a conditional expression is only an error when it is evaluated).
// Known differences: tuples are lists, so they print as [a, b] rather than
// (a, b); filters that return generators in Jinja (map, select, unique,
// ...) return lists; constant folding artifacts of Jinja's optimizer are
// not reproduced.
//
// Rendering is bounded: a step budget, an output size limit and a macro
// recursion limit turn runaway templates into errors.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Message is one chat message, e.g. {"role": "user", "content": "Hi"}.
// Go maps have no key order; when a message is rendered with tojson its
// keys come out as role, content, then the rest sorted. Use *Map (or
// RenderRequest with JSON) to control the order.
type Message = map[string]any

// Template is a parsed chat template. It is safe for concurrent use as long
// as its fields are not changed while rendering.
type Template struct {
	// Now supplies the time for strftime_now; nil means time.Now.
	Now func() time.Time
	// MaxSteps bounds the work done by one Render (0 means 50,000,000).
	MaxSteps int64
	// MaxOutput bounds the size of the rendered text, and of any single
	// string built while rendering, in bytes (0 means 64 MiB).
	MaxOutput int

	src   string
	body  []node
	undef []string
}

// Parse parses a chat template.
func Parse(src string) (*Template, error) {
	src = normalizeSource(src)
	body, err := parseTemplate(src)
	if err != nil {
		return nil, err
	}
	if err := checkNames(src, body); err != nil {
		return nil, err
	}
	_, undef := analyzeFrame(body, nil, nil)
	return &Template{src: src, body: body, undef: undef}, nil
}

// Source returns the (newline-normalized) template source.
func (t *Template) Source() string { return t.src }

// Render renders the template with the given variables (messages, tools,
// add_generation_prompt, bos_token, ...). Values may be Go values (nil,
// bool, ints, floats, string, slices, map[string]any, Message), *Map or
// json.RawMessage (decoded preserving key order). Variables that are not
// given are undefined in the template.
func (t *Template) Render(vars map[string]any) (string, error) {
	root := newScope(nil)
	for k, v := range t.globals() {
		root.vars[k] = v
	}
	for k, v := range vars {
		cv, err := toValue(v)
		if err != nil {
			return "", fmt.Errorf("chat: variable %q: %w", k, err)
		}
		root.vars[k] = cv
	}
	e := &evaluator{t: t, maxSteps: t.MaxSteps, maxOut: t.MaxOutput}
	if e.maxSteps <= 0 {
		e.maxSteps = 50_000_000
	}
	if e.maxOut <= 0 {
		e.maxOut = 64 << 20
	}
	var b strings.Builder
	err := e.render(t.body, frameScope(root, t.undef), &b)
	if err != nil {
		if err == errBreak || err == errContinue {
			err = errorf("'%v' outside of a loop", err)
		}
		return "", locate(t.src, 0, err)
	}
	return b.String(), nil
}

// RenderRequest renders a chat request given as a JSON object
//
//	{"messages": [...], "add_generation_prompt": bool, "enable_thinking": bool, "tools": [...]}
//
// (all keys but messages optional; any other key is passed to the template
// as a variable, like extra keyword arguments of apply_chat_template).
// Object key order is preserved, so tojson output matches Python's.
// specials holds the special token strings (bos_token, eos_token, ...);
// request keys override them. As in transformers, tools and documents
// default to none and add_generation_prompt to false; "continue_final_message": true cuts
// the output right after the final message's (stripped) content.
func RenderRequest(t *Template, requestJSON []byte, specials map[string]string) (string, error) {
	v, err := DecodeJSON(requestJSON)
	if err != nil {
		return "", err
	}
	req, ok := v.(*Map)
	if !ok {
		return "", errors.New("chat: request must be a JSON object")
	}
	vars := map[string]any{"tools": nil, "documents": nil, "add_generation_prompt": false}
	for k, s := range specials {
		vars[k] = s
	}
	for i, k := range req.keys {
		vars[k.(string)] = req.vals[i]
	}
	msgs, ok := vars["messages"].([]any)
	if !ok {
		return "", errors.New("chat: request has no \"messages\" list")
	}
	cont := truthy(vars["continue_final_message"])
	delete(vars, "continue_final_message")
	if cont && truthy(vars["add_generation_prompt"]) {
		return "", errors.New("chat: continue_final_message and add_generation_prompt are mutually exclusive")
	}
	out, err := t.Render(vars)
	if err != nil || !cont {
		return out, err
	}
	if len(msgs) == 0 {
		return "", errors.New("chat: continue_final_message needs a final message")
	}
	final := finalText(msgs[len(msgs)-1])
	final = strings.TrimFunc(final, isPySpace)
	i := strings.LastIndex(out, final)
	if i < 0 {
		return "", errors.New("chat: continue_final_message is set but the final message does not appear in the rendered chat")
	}
	return out[:i+len(final)], nil
}

func finalText(msg any) string {
	m, ok := msg.(*Map)
	if !ok {
		return ""
	}
	c, _ := m.lookup("content")
	switch x := c.(type) {
	case string:
		return x
	case []any:
		for i := len(x) - 1; i >= 0; i-- {
			if blk, ok := x[i].(*Map); ok {
				if s, ok := blk.lookup("text"); ok {
					return toStr(s)
				}
			}
		}
	}
	return ""
}

// specialTokenKeys are the special tokens transformers passes to templates.
var specialTokenKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// LoadConfig loads the chat template and the special token strings from a
// tokenizer_config.json (path is the file or its directory). chat_template
// may be a string or a list of {"name", "template"} objects, in which case
// the one named "default" is used (else the first). When the config has no
// chat_template, a chat_template.jinja or chat_template.json next to it is
// used. Special tokens that are null are omitted; AddedToken objects
// ({"content": ...}) are reduced to their content.
func LoadConfig(path string) (*Template, map[string]string, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "tokenizer_config.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("chat: %w", err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, nil, fmt.Errorf("chat: %s: %w", path, err)
	}
	specials := map[string]string{}
	for _, k := range specialTokenKeys {
		raw, ok := cfg[k]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			specials[k] = s
			continue
		}
		var obj struct {
			Content *string `json:"content"`
		}
		if json.Unmarshal(raw, &obj) == nil && obj.Content != nil {
			specials[k] = *obj.Content
		}
	}
	src, err := chatTemplateSource(cfg["chat_template"])
	if err != nil {
		return nil, nil, fmt.Errorf("chat: %s: %w", path, err)
	}
	if src == "" {
		dir := filepath.Dir(path)
		if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
			src = string(b)
		} else if b, err := os.ReadFile(filepath.Join(dir, "chat_template.json")); err == nil {
			var ct map[string]json.RawMessage
			if err := json.Unmarshal(b, &ct); err != nil {
				return nil, nil, fmt.Errorf("chat: chat_template.json: %w", err)
			}
			if src, err = chatTemplateSource(ct["chat_template"]); err != nil {
				return nil, nil, fmt.Errorf("chat: chat_template.json: %w", err)
			}
		}
	}
	if src == "" {
		return nil, nil, fmt.Errorf("chat: %s has no chat_template", path)
	}
	t, err := Parse(src)
	if err != nil {
		return nil, nil, err
	}
	return t, specials, nil
}

func chatTemplateSource(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var list []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", errors.New("chat_template is neither a string nor a list of {name, template}")
	}
	for _, e := range list {
		if e.Name == "default" {
			return e.Template, nil
		}
	}
	if len(list) > 0 {
		return list[0].Template, nil
	}
	return "", nil
}

// Messages builds the common generation case: an optional system prompt
// (omitted when empty) followed by one user message.
func Messages(system, user string) []Message {
	var msgs []Message
	if system != "" {
		msgs = append(msgs, Message{"role": "system", "content": system})
	}
	return append(msgs, Message{"role": "user", "content": user})
}

// RenderMessages renders messages with add_generation_prompt and the given
// special tokens, with tools and documents set to none.
func (t *Template) RenderMessages(msgs []Message, addGenerationPrompt bool, specials map[string]string) (string, error) {
	vars := map[string]any{"messages": msgs, "add_generation_prompt": addGenerationPrompt, "tools": nil, "documents": nil}
	for k, v := range specials {
		vars[k] = v
	}
	return t.Render(vars)
}
