package httpapi

// S3ErrorCode is s3ErrorCode, for tests.
var S3ErrorCode = s3ErrorCode
