package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/userimages/userimages/client/api"
)

// presignedPuts creates the bucket on the S3 endpoint base and returns n
// presigned PUT URLs of distinct keys, with the headers each must send.
func presignedPuts(ctx context.Context, base string, n int, size int64) ([]upload, error) {
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(base),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: s3Access, SecretAccessKey: s3Secret}, nil
		}),
	})
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)}); err != nil {
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	ps := s3.NewPresignClient(client)
	out := make([]upload, n)
	for i := range out {
		req, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(s3Bucket),
			Key:           aws.String(fmt.Sprintf("staging/obj-%07d", i)),
			ContentType:   aws.String(api.JPEG.MIME),
			ContentLength: aws.Int64(size),
		})
		if err != nil {
			return nil, fmt.Errorf("presign: %w", err)
		}
		out[i].Upload.URL = req.URL
		out[i].Upload.Headers = map[string]string{}
		for k, v := range req.SignedHeader {
			if http.CanonicalHeaderKey(k) != "Host" && http.CanonicalHeaderKey(k) != "Content-Length" && len(v) > 0 {
				out[i].Upload.Headers[k] = v[0]
			}
		}
	}
	return out, nil
}
