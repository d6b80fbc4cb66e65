module cprof.test/gofixtures

go 1.19
