package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

var dictMethods = map[string]bool{
	"items": true, "keys": true, "values": true, "get": true, "copy": true,
	// mutating methods exist but fail in the immutable sandbox
	"pop": true, "popitem": true, "update": true, "setdefault": true, "clear": true,
}

var listMethods = map[string]bool{
	"index": true, "count": true, "copy": true,
	"append": true, "extend": true, "insert": true, "pop": true, "remove": true,
	"reverse": true, "sort": true, "clear": true,
}

var strMethods = map[string]bool{
	"startswith": true, "endswith": true, "split": true, "rsplit": true, "splitlines": true,
	"strip": true, "lstrip": true, "rstrip": true, "lower": true, "upper": true,
	"title": true, "capitalize": true, "replace": true, "find": true, "rfind": true,
	"index": true, "rindex": true, "count": true, "join": true, "removeprefix": true, "removesuffix": true,
	"isdigit": true, "isalpha": true, "isalnum": true, "isspace": true, "islower": true, "isupper": true,
	"swapcase": true, "casefold": true, "zfill": true, "partition": true, "rpartition": true,
}

func callMethod(e *evaluator, m *method, a *callArgs) (any, error) {
	switch r := m.recv.(type) {
	case string:
		return strMethod(e, r, m.name, a)
	case *Map:
		return dictMethod(r, m.name, a)
	case []any:
		return listMethod(r, m.name, a)
	case *loopObj:
		if m.name == "cycle" {
			if len(a.pos) == 0 {
				return nil, errorf("no items for cycling given")
			}
			return a.pos[r.index0%len(a.pos)], nil
		}
	}
	return nil, errorf("unsupported method '%s' of '%s' object", m.name, typeName(m.recv))
}

func dictMethod(m *Map, name string, a *callArgs) (any, error) {
	switch name {
	case "items":
		return mapItems(m), nil
	case "keys":
		return append([]any{}, m.keys...), nil
	case "values":
		return append([]any{}, m.vals...), nil
	case "get":
		if v, ok := m.lookup(a.arg(0, "key", nil)); ok {
			return v, nil
		}
		return a.arg(1, "default", nil), nil
	case "copy":
		c := NewMap()
		for i, k := range m.keys {
			c.put(k, m.vals[i])
		}
		return c, nil
	}
	return nil, errorf("unsupported: dict.%s() (cannot modify immutable dict in the sandbox)", name)
}

func listMethod(l []any, name string, a *callArgs) (any, error) {
	switch name {
	case "index":
		x := a.arg(0, "value", nil)
		for i, v := range l {
			if pyEqual(v, x) {
				return int64(i), nil
			}
		}
		return nil, errorf("%s is not in list", repr(x))
	case "count":
		x := a.arg(0, "value", nil)
		n := int64(0)
		for _, v := range l {
			if pyEqual(v, x) {
				n++
			}
		}
		return n, nil
	case "copy":
		return append([]any{}, l...), nil
	}
	return nil, errorf("unsupported: list.%s() (cannot modify immutable list in the sandbox)", name)
}

func strArg(a *callArgs, i int, name string) (string, bool, error) {
	v := a.arg(i, name, nil)
	if v == nil {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		if u, isU := v.(undefined); isU {
			return "", false, u.err()
		}
		return "", false, errorf("expected a string argument, got '%s'", typeName(v))
	}
	return s, true, nil
}

func optInt(a *callArgs, i int, name string, def int64) (int64, error) {
	v := a.arg(i, name, nil)
	if v == nil {
		return def, nil
	}
	return intArg(v)
}

// runeRange converts Python-style optional start/end arguments into a
// byte range of s.
func runeRange(s string, a *callArgs, i int) (int, int, error) {
	n := int64(utf8.RuneCountInString(s))
	lo, err := optInt(a, i, "start", 0)
	if err != nil {
		return 0, 0, err
	}
	hi, err := optInt(a, i+1, "end", n)
	if err != nil {
		return 0, 0, err
	}
	idx, _ := sliceIndices(int(n), &lo, &hi, nil)
	if len(idx) == 0 {
		b := runeOffset(s, int(min(max(lo, 0), n)))
		return b, b, nil
	}
	return runeOffset(s, idx[0]), runeOffset(s, idx[len(idx)-1]+1), nil
}

func runeOffset(s string, r int) int {
	for i := range s {
		if r == 0 {
			return i
		}
		r--
	}
	return len(s)
}

func strMethod(e *evaluator, s, name string, a *callArgs) (any, error) {
	switch name {
	case "startswith", "endswith":
		lo, hi, err := runeRange(s, a, 1)
		if err != nil {
			return nil, err
		}
		sub := s[lo:hi]
		var cands []any
		switch p := a.arg(0, "prefix", nil).(type) {
		case string:
			cands = []any{p}
		case []any:
			cands = p
		default:
			return nil, errorf("%s first arg must be str or a tuple of str, not %s", name, typeName(p))
		}
		for _, c := range cands {
			cs, ok := c.(string)
			if !ok {
				return nil, errorf("%s first arg must be str or a tuple of str", name)
			}
			if name == "startswith" && strings.HasPrefix(sub, cs) || name == "endswith" && strings.HasSuffix(sub, cs) {
				return true, nil
			}
		}
		return false, nil
	case "split", "rsplit":
		sep, has, err := strArg(a, 0, "sep")
		if err != nil {
			return nil, err
		}
		n, err := optInt(a, 1, "maxsplit", -1)
		if err != nil {
			return nil, err
		}
		var parts []string
		switch {
		case !has:
			parts = splitWhitespace(s, int(n), name == "rsplit")
		case sep == "":
			return nil, errorf("empty separator")
		case n < 0:
			parts = strings.Split(s, sep)
		case name == "split":
			parts = strings.SplitN(s, sep, int(n)+1)
		default:
			parts = rsplitN(s, sep, int(n))
		}
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "splitlines":
		lines := strings.Split(s, "\n")
		if strings.HasSuffix(s, "\n") || s == "" {
			lines = lines[:len(lines)-1]
		}
		keep := truthy(a.arg(0, "keepends", false))
		out := make([]any, len(lines))
		for i, l := range lines {
			if keep && (i < len(lines)-1 || strings.HasSuffix(s, "\n")) {
				l += "\n"
			}
			out[i] = l
		}
		return out, nil
	case "strip", "lstrip", "rstrip":
		chars, has, err := strArg(a, 0, "chars")
		if err != nil {
			return nil, err
		}
		switch {
		case !has && name == "strip":
			return strings.TrimFunc(s, isPySpace), nil
		case !has && name == "lstrip":
			return lstripPy(s), nil
		case !has:
			return rstripPy(s), nil
		case name == "strip":
			return strings.Trim(s, chars), nil
		case name == "lstrip":
			return strings.TrimLeft(s, chars), nil
		}
		return strings.TrimRight(s, chars), nil
	case "lower", "casefold":
		return strings.ToLower(s), nil
	case "upper":
		return strings.ToUpper(s), nil
	case "swapcase":
		return strings.Map(func(r rune) rune {
			if unicode.IsUpper(r) {
				return unicode.ToLower(r)
			}
			return unicode.ToUpper(r)
		}, s), nil
	case "title":
		return pyTitle(s), nil
	case "capitalize":
		return pyCapitalize(s), nil
	case "replace":
		old, ok1, err := strArg(a, 0, "old")
		if err != nil {
			return nil, err
		}
		nw, ok2, err := strArg(a, 1, "new")
		if err != nil {
			return nil, err
		}
		if !ok1 || !ok2 {
			return nil, errorf("replace() takes two string arguments")
		}
		n, err := optInt(a, 2, "count", -1)
		if err != nil {
			return nil, err
		}
		return pyReplace(e, s, old, nw, int(n))
	case "find", "rfind", "index", "rindex", "count":
		sub, ok, err := strArg(a, 0, "sub")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errorf("%s() requires a string argument", name)
		}
		lo, hi, err := runeRange(s, a, 1)
		if err != nil {
			return nil, err
		}
		region := s[lo:hi]
		if name == "count" {
			if sub == "" {
				return int64(utf8.RuneCountInString(region) + 1), nil
			}
			return int64(strings.Count(region, sub)), nil
		}
		var i int
		if name == "find" || name == "index" {
			i = strings.Index(region, sub)
		} else {
			i = strings.LastIndex(region, sub)
		}
		if i < 0 {
			if name == "index" || name == "rindex" {
				return nil, errorf("substring not found")
			}
			return int64(-1), nil
		}
		return int64(utf8.RuneCountInString(s[:lo+i])), nil
	case "join":
		items, err := iterate(a.arg(0, "iterable", nil))
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(items))
		n := 0
		for i, it := range items {
			p, ok := it.(string)
			if !ok {
				return nil, errorf("sequence item %d: expected str instance, %s found", i, typeName(it))
			}
			parts[i] = p
			n += len(p) + len(s)
		}
		if err := e.charge(n); err != nil {
			return nil, err
		}
		return strings.Join(parts, s), nil
	case "removeprefix", "removesuffix":
		p, _, err := strArg(a, 0, "prefix")
		if err != nil {
			return nil, err
		}
		if name == "removeprefix" {
			return strings.TrimPrefix(s, p), nil
		}
		return strings.TrimSuffix(s, p), nil
	case "isdigit", "isalpha", "isalnum", "isspace":
		if s == "" {
			return false, nil
		}
		for _, r := range s {
			var ok bool
			switch name {
			case "isdigit":
				ok = unicode.IsDigit(r)
			case "isalpha":
				ok = unicode.IsLetter(r)
			case "isalnum":
				ok = unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r)
			default:
				ok = isPySpace(r)
			}
			if !ok {
				return false, nil
			}
		}
		return true, nil
	case "islower", "isupper":
		cased := false
		for _, r := range s {
			if unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) {
				cased = true
				if name == "islower" && !unicode.IsLower(r) || name == "isupper" && !unicode.IsUpper(r) {
					return false, nil
				}
			}
		}
		return cased, nil
	case "zfill":
		w, err := intArg(a.arg(0, "width", nil))
		if err != nil {
			return nil, err
		}
		n := utf8.RuneCountInString(s)
		if int(w) <= n {
			return s, nil
		}
		if err := e.charge(int(min(w, maxValueLen+1))); err != nil {
			return nil, err
		}
		pad := strings.Repeat("0", int(w)-n)
		if s != "" && (s[0] == '+' || s[0] == '-') {
			return s[:1] + pad + s[1:], nil
		}
		return pad + s, nil
	case "partition", "rpartition":
		sep, ok, err := strArg(a, 0, "sep")
		if err != nil {
			return nil, err
		}
		if !ok || sep == "" {
			return nil, errorf("empty separator")
		}
		var i int
		if name == "partition" {
			i = strings.Index(s, sep)
			if i < 0 {
				return []any{s, "", ""}, nil
			}
		} else {
			i = strings.LastIndex(s, sep)
			if i < 0 {
				return []any{"", "", s}, nil
			}
		}
		return []any{s[:i], sep, s[i+len(sep):]}, nil
	}
	return nil, errorf("unsupported method 'str.%s'", name)
}

// splitWhitespace is Python's str.split()/rsplit() without a separator.
func splitWhitespace(s string, n int, fromRight bool) []string {
	if !fromRight || n < 0 {
		var out []string
		rest := lstripPy(s)
		for rest != "" {
			if n >= 0 && len(out) == n {
				out = append(out, rstripPy(rest))
				break
			}
			i := strings.IndexFunc(rest, isPySpace)
			if i < 0 {
				out = append(out, rest)
				break
			}
			out = append(out, rest[:i])
			rest = lstripPy(rest[i:])
		}
		if out == nil {
			out = []string{}
		}
		return out
	}
	var out []string
	rest := rstripPy(s)
	for rest != "" {
		if len(out) == n {
			out = append(out, lstripPy(rest))
			break
		}
		i := strings.LastIndexFunc(rest, isPySpace)
		if i < 0 {
			out = append(out, rest)
			break
		}
		_, sz := utf8.DecodeRuneInString(rest[i:])
		out = append(out, rest[i+sz:])
		rest = rstripPy(rest[:i])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func rsplitN(s, sep string, n int) []string {
	var out []string
	for len(out) < n {
		i := strings.LastIndex(s, sep)
		if i < 0 {
			break
		}
		out = append(out, s[i+len(sep):])
		s = s[:i]
	}
	out = append(out, s)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
