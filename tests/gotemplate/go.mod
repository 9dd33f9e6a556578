module kasugai/tests/gotemplate

go 1.22
