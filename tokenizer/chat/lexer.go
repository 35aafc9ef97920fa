package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF        tokKind = iota
	tText               // literal template text (already whitespace-processed)
	tVarBegin           // {{
	tVarEnd             // }}
	tBlockBegin         // {%
	tBlockEnd           // %}
	tName
	tString
	tInt
	tFloat
	tOp
)

var tokNames = [...]string{"end of template", "text", "'{{'", "'}}'", "'{%'", "'%}'", "name", "string", "integer", "float", "operator"}

type token struct {
	kind tokKind
	val  string // text, name, operator or decoded string literal
	ival int64
	fval float64
	pos  int // byte offset into the normalized source
}

func (t token) describe() string {
	switch t.kind {
	case tName, tOp:
		return "'" + t.val + "'"
	case tString:
		return "string literal"
	case tInt, tFloat:
		return "number"
	}
	return tokNames[t.kind]
}

// normalizeSource applies Jinja's newline handling: \r\n and \r become \n
// and a single trailing newline is dropped (keep_trailing_newline=False).
func normalizeSource(src string) string {
	if strings.IndexByte(src, '\r') >= 0 {
		src = strings.ReplaceAll(src, "\r\n", "\n")
		src = strings.ReplaceAll(src, "\r", "\n")
	}
	return strings.TrimSuffix(src, "\n")
}

// isPySpace reports whether r is whitespace for Python's str.isspace/strip.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func rstripPy(s string) string { return strings.TrimRightFunc(s, isPySpace) }
func lstripPy(s string) string { return strings.TrimLeftFunc(s, isPySpace) }

type lexer struct {
	src  string
	pos  int
	toks []token
}

func (l *lexer) errAt(pos int, format string, args ...any) error {
	return newError(l.src, pos, format, args...)
}

func (l *lexer) emit(t token) { l.toks = append(l.toks, t) }

// lex tokenizes a normalized template source with trim_blocks and
// lstrip_blocks enabled, exactly like Jinja2's lexer.
func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	for l.pos < len(src) {
		start := l.pos
		i := nextTagStart(src, start)
		if i < 0 {
			l.emit(token{kind: tText, val: src[start:], pos: start})
			break
		}
		kind := src[i+1]
		sign := byte(0)
		if i+2 < len(src) && (src[i+2] == '-' || src[i+2] == '+') {
			sign = src[i+2]
		}
		text := src[start:i]
		rawEnd := -1
		if kind == '%' {
			rawEnd = l.rawBegin(i)
		}
		switch {
		case sign == '-':
			text = rstripPy(text)
		case sign != '+' && kind != '{':
			// lstrip_blocks: drop spaces/tabs between line start and the tag.
			lp := strings.LastIndexByte(text, '\n') + 1
			if lp > 0 || start == 0 || src[start-1] == '\n' {
				if strings.TrimLeftFunc(text[lp:], isPySpace) == "" {
					text = text[:lp]
				}
			}
		}
		if text != "" {
			l.emit(token{kind: tText, val: text, pos: start})
		}
		p := i + 2
		if sign != 0 {
			p++
		}
		var err error
		switch {
		case rawEnd >= 0:
			err = l.lexRaw(i, rawEnd)
		case kind == '#':
			err = l.lexComment(i, p)
		default:
			err = l.lexTag(i, p, kind)
		}
		if err != nil {
			return nil, err
		}
	}
	l.emit(token{kind: tEOF, pos: len(src)})
	return l.toks, nil
}

func nextTagStart(src string, from int) int {
	for {
		j := strings.IndexByte(src[from:], '{')
		if j < 0 {
			return -1
		}
		j += from
		if j+1 < len(src) {
			switch src[j+1] {
			case '{', '%', '#':
				return j
			}
		}
		from = j + 1
	}
}

// afterEnd applies the whitespace control of a closing marker whose
// leading strip sign (or 0) is sign and that ends just before p.
// trim says whether trim_blocks applies to this kind of tag.
func (l *lexer) afterEnd(p int, sign byte, trim bool) int {
	switch {
	case sign == '-':
		rest := lstripPy(l.src[p:])
		return len(l.src) - len(rest)
	case sign == '+' || !trim:
		return p
	case p < len(l.src) && l.src[p] == '\n':
		return p + 1
	}
	return p
}

func (l *lexer) lexComment(start, p int) error {
	j := strings.Index(l.src[p:], "#}")
	if j < 0 {
		return l.errAt(start, "unclosed comment: missing '#}'")
	}
	j += p
	sign := byte(0)
	if j > p && (l.src[j-1] == '-' || l.src[j-1] == '+') {
		sign = l.src[j-1]
	}
	l.pos = l.afterEnd(j+2, sign, true)
	return nil
}

// rawBegin checks whether the block tag at i is "{% raw %}" and returns the
// offset just after it, or -1.
func (l *lexer) rawBegin(i int) int {
	p := i + 2
	s := l.src
	if p < len(s) && (s[p] == '-' || s[p] == '+') {
		p++
	}
	p = skipSpace(s, p)
	if !strings.HasPrefix(s[p:], "raw") {
		return -1
	}
	p += 3
	if p < len(s) && isNameByte(s[p]) {
		return -1
	}
	p = skipSpace(s, p)
	if strings.HasPrefix(s[p:], "-%}") {
		rest := lstripPy(s[p+3:])
		return len(s) - len(rest)
	}
	if strings.HasPrefix(s[p:], "%}") {
		return p + 2
	}
	return -1
}

func (l *lexer) lexRaw(start, body int) error {
	s := l.src
	for q := body; ; {
		j := strings.Index(s[q:], "{%")
		if j < 0 {
			return l.errAt(start, "missing %s", "'{% endraw %}' for '{% raw %}'")
		}
		j += q
		p := j + 2
		sign := byte(0)
		if p < len(s) && (s[p] == '-' || s[p] == '+') {
			sign = s[p]
			p++
		}
		p = skipSpace(s, p)
		if !strings.HasPrefix(s[p:], "endraw") {
			q = j + 2
			continue
		}
		p = skipSpace(s, p+6)
		esign := byte(0)
		if p < len(s) && (s[p] == '-' || s[p] == '+') {
			esign = s[p]
			p++
		}
		if !strings.HasPrefix(s[p:], "%}") {
			q = j + 2
			continue
		}
		text := s[body:j]
		switch {
		case sign == '-':
			text = rstripPy(text)
		case sign != '+':
			lp := strings.LastIndexByte(text, '\n') + 1
			if lp > 0 || body == 0 || s[body-1] == '\n' {
				if strings.TrimLeftFunc(text[lp:], isPySpace) == "" {
					text = text[:lp]
				}
			}
		}
		if text != "" {
			l.emit(token{kind: tText, val: text, pos: body})
		}
		l.pos = l.afterEnd(p+2, esign, true)
		return nil
	}
}

func skipSpace(s string, p int) int {
	for p < len(s) {
		r, n := utf8.DecodeRuneInString(s[p:])
		if !isPySpace(r) {
			break
		}
		p += n
	}
	return p
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func isNameStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isNameRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

var twoCharOps = []string{"//", "**", "==", "!=", "<=", ">="}

const oneCharOps = "+-/*%~[](){}<>=.:|,;"

// lexTag tokenizes the inside of a {{ }} or {% %} tag starting at p.
func (l *lexer) lexTag(start, p int, kind byte) error {
	s := l.src
	begin, end := tVarBegin, tVarEnd
	closer := "}}"
	if kind == '%' {
		begin, end, closer = tBlockBegin, tBlockEnd, "%}"
	}
	l.emit(token{kind: begin, pos: start})
	depth := 0
	var stack []byte
	for {
		p = skipSpace(s, p)
		if p >= len(s) {
			return l.errAt(start, "unexpected end of template: missing '%s'", closer)
		}
		if depth == 0 {
			sign := byte(0)
			q := p
			if s[q] == '-' || s[q] == '+' && kind == '%' {
				sign = s[q]
				q++
			}
			if strings.HasPrefix(s[q:], closer) {
				l.emit(token{kind: end, pos: p})
				l.pos = l.afterEnd(q+2, sign, kind == '%')
				return nil
			}
		}
		c := s[p]
		switch {
		case c == '\'' || c == '"':
			q := p + 1
			for q < len(s) && s[q] != c {
				if s[q] == '\\' {
					q++
				}
				q++
			}
			if q >= len(s) {
				return l.errAt(p, "unterminated string literal")
			}
			val, err := unescapePy(s[p+1 : q])
			if err != nil {
				return l.errAt(p, "%v", err)
			}
			l.emit(token{kind: tString, val: val, pos: p})
			p = q + 1
		case c >= '0' && c <= '9':
			afterDot := len(l.toks) > 0 && l.toks[len(l.toks)-1].kind == tOp && l.toks[len(l.toks)-1].val == "." && l.toks[len(l.toks)-1].pos == p-1
			t, n, err := lexNumber(s[p:], afterDot)
			if err != nil {
				return l.errAt(p, "%v", err)
			}
			t.pos = p
			l.emit(t)
			p += n
		default:
			r, n := utf8.DecodeRuneInString(s[p:])
			if isNameStart(r) {
				q := p + n
				for q < len(s) {
					r2, n2 := utf8.DecodeRuneInString(s[q:])
					if !isNameRune(r2) {
						break
					}
					q += n2
				}
				l.emit(token{kind: tName, val: s[p:q], pos: p})
				p = q
				continue
			}
			op := ""
			for _, o := range twoCharOps {
				if strings.HasPrefix(s[p:], o) {
					op = o
					break
				}
			}
			if op == "" && strings.IndexByte(oneCharOps, c) >= 0 {
				op = s[p : p+1]
			}
			if op == "" {
				if r == utf8.RuneError && n <= 1 {
					return l.errAt(p, "invalid byte 0x%02x in tag", c)
				}
				return l.errAt(p, "unexpected character %q in tag", r)
			}
			switch op {
			case "(", "[", "{":
				stack = append(stack, op[0])
				depth++
			case ")", "]", "}":
				want := map[string]byte{")": '(', "]": '[', "}": '{'}[op]
				if depth == 0 || stack[len(stack)-1] != want {
					return l.errAt(p, "unexpected '%s'", op)
				}
				stack = stack[:len(stack)-1]
				depth--
			}
			l.emit(token{kind: tOp, val: op, pos: p})
			p += len(op)
		}
	}
}

func lexNumber(s string, intOnly bool) (token, int, error) {
	digits := func(i int) int {
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '_' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9') {
			i++
		}
		return i
	}
	if len(s) > 1 && s[0] == '0' && strings.IndexByte("xXoObB", s[1]) >= 0 {
		base := map[byte]int{'x': 16, 'o': 8, 'b': 2}[s[1]|0x20]
		i := 2
		var v int64
		for i < len(s) {
			c := s[i]
			d := -1
			switch {
			case c >= '0' && c <= '9':
				d = int(c - '0')
			case c >= 'a' && c <= 'f':
				d = int(c-'a') + 10
			case c >= 'A' && c <= 'F':
				d = int(c-'A') + 10
			case c == '_':
				i++
				continue
			}
			if d < 0 || d >= base {
				break
			}
			v = v*int64(base) + int64(d)
			i++
		}
		if i == 2 {
			return token{}, 0, errorf("invalid number literal")
		}
		return token{kind: tInt, ival: v, val: s[:i]}, i, nil
	}
	i := digits(0)
	isFloat := false
	if !intOnly {
		if i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
			i = digits(i + 1)
			isFloat = true
		}
		if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
			j := i + 1
			if j < len(s) && (s[j] == '+' || s[j] == '-') {
				j++
			}
			if j < len(s) && s[j] >= '0' && s[j] <= '9' {
				i = digits(j)
				isFloat = true
			}
		}
	}
	lit := strings.ReplaceAll(s[:i], "_", "")
	if isFloat {
		f, err := parseFloat(lit)
		if err != nil {
			return token{}, 0, errorf("invalid float literal %q", lit)
		}
		return token{kind: tFloat, fval: f, val: lit}, i, nil
	}
	var v int64
	for _, c := range []byte(lit) {
		v = v*10 + int64(c-'0')
	}
	return token{kind: tInt, ival: v, val: lit}, i, nil
}

// unescapePy decodes a string literal body the way Jinja does
// (Python's "unicode-escape" codec).
func unescapePy(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		c = s[i]
		switch c {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(c)
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte(11)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v, j := 0, i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				v = v*8 + int(s[j]-'0')
				j++
			}
			b.WriteRune(rune(v))
			i = j - 1
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			if i+1+n > len(s) {
				return "", errorf("truncated \\%c escape in string literal", c)
			}
			v := 0
			for _, h := range []byte(s[i+1 : i+1+n]) {
				d := hexVal(h)
				if d < 0 {
					return "", errorf("truncated \\%c escape in string literal", c)
				}
				v = v*16 + d
			}
			if v > unicode.MaxRune {
				return "", errorf("illegal Unicode character in string literal")
			}
			b.WriteRune(rune(v))
			i += n
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
