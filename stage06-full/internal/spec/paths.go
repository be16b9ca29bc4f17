package spec

// Config fields by their JSON path. The refusal table (fields.go), the
// check for unknown keys (load.go) and its test all speak of a field the
// way config.md and an error message do, "linux.resources.hugepageLimits",
// so the Go names of specs-go never reach the user. Reflection walks the
// specs-go types by their json tags; a slice is walked element by element
// and an element is named with its index, "mounts[2].uidMappings".

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var specType = reflect.TypeFor[specs.Spec]()

// jsonName is a struct field's key in JSON, "" when it has none.
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// fieldByJSON finds the field a key decodes into, as encoding/json does:
// the exact name first, then one that matches ignoring case.
func fieldByJSON(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold *reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		switch name := jsonName(f); {
		case name == key:
			return f, true
		case fold == nil && strings.EqualFold(name, key):
			fold = &f
		}
	}
	if fold != nil {
		return *fold, true
	}
	return reflect.StructField{}, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// unknownKeys lists the object keys in raw (a document decoded into any)
// that type t has no field for, sorted, with their paths. A key of a Go
// map (annotations, sysctl) is data, not a field, and is never unknown;
// an interface{} field (windows.credentialSpec) takes anything.
func unknownKeys(raw any, t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil // a type mismatch: json.Unmarshal names it
		}
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			f, ok := fieldByJSON(t, key)
			if !ok {
				out = append(out, join(path, key))
				continue
			}
			out = append(out, unknownKeys(obj[key], f.Type, join(path, key))...)
		}
	case reflect.Slice, reflect.Array:
		arr, _ := raw.([]any)
		for i, v := range arr {
			out = append(out, unknownKeys(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		obj, _ := raw.(map[string]any)
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			out = append(out, unknownKeys(obj[key], t.Elem(), join(path, key))...)
		}
	}
	return out
}

// setAt returns the fields at path (dotted JSON names, no indexes) that
// are set in v, each with its concrete path. Through a slice every
// element is looked at.
func setAt(v reflect.Value, path string) []string {
	var out []string
	var walk func(v reflect.Value, rest []string, at string)
	walk = func(v reflect.Value, rest []string, at string) {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return
			}
			v = v.Elem()
		}
		if len(rest) == 0 {
			if isSet(v) {
				out = append(out, at)
			}
			return
		}
		switch v.Kind() {
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), rest, fmt.Sprintf("%s[%d]", at, i))
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if jsonName(v.Type().Field(i)) == rest[0] {
					walk(v.Field(i), rest[1:], join(at, rest[0]))
					return
				}
			}
		}
	}
	walk(v, strings.Split(path, "."), "")
	return out
}

// isSet says whether a value carries a setting. An empty object or list
// says nothing (docker sends "blockIO": {}), so it is not set; a pointer
// to a zero number or false is (swappiness 0 is a choice, not an absence).
func isSet(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Invalid:
		return false
	case reflect.Pointer:
		if v.IsNil() {
			return false
		}
		if v.Elem().Kind() == reflect.Struct {
			return isSet(v.Elem())
		}
		return true
	case reflect.Interface:
		return !v.IsNil()
	case reflect.Slice, reflect.Map:
		return v.Len() > 0
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && isSet(v.Field(i)) {
				return true
			}
		}
		return false
	}
	return !v.IsZero()
}

// leafPaths lists every field path of t down to the scalars, maps and
// interfaces, for the test that every field is in the table.
func leafPaths(t reflect.Type, path string, seen map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return []string{path}
	}
	seen[t] = true
	defer delete(seen, t)
	var out []string
	for i := range t.NumField() {
		if name := jsonName(t.Field(i)); name != "" {
			out = append(out, leafPaths(t.Field(i).Type, join(path, name), seen)...)
		}
	}
	return out
}
