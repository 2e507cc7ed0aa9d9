module github.com/userimages/userimages/client

go 1.23
