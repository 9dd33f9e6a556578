// Command gotemplate renders Go text/template cases with the real standard library, so that the
// sidecar's Python renderer can be checked against Go itself.
//
// Input (stdin): a JSON list of {"name", "template", "data"}; "data" is the JSON text that the
// sidecar would receive (decoded here exactly as a Go program decodes a ConfigMap: into any).
// Output (stdout): a JSON list of {"name", "kind", "output", "error"} in the same order, where
// kind is "output", "parse_error", "exec_error" or "data_error".
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

type testCase struct {
	Name     string `json:"name"`
	Template string `json:"template"`
	Data     string `json:"data"`
}

type outcome struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Output string `json:"output"`
	Error  string `json:"error"`
}

func render(c testCase) outcome {
	var data any
	if err := json.Unmarshal([]byte(c.Data), &data); err != nil {
		return outcome{Name: c.Name, Kind: "data_error", Error: err.Error()}
	}
	tmpl, err := template.New(c.Name).Parse(c.Template)
	if err != nil {
		return outcome{Name: c.Name, Kind: "parse_error", Error: err.Error()}
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, data); err != nil {
		return outcome{Name: c.Name, Kind: "exec_error", Error: err.Error()}
	}
	return outcome{Name: c.Name, Kind: "output", Output: out.String()}
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "gotemplate: reading cases:", err)
		os.Exit(2)
	}
	results := make([]outcome, 0, len(cases))
	for _, c := range cases {
		results = append(results, render(c))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "gotemplate: writing results:", err)
		os.Exit(2)
	}
}
