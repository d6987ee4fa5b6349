# Highway in a container: a static binary on a distroless base, run as a
# non-root user. The embedded default city serves on 0.0.0.0:8080; mount a
# config and point HIGHWAY_CONFIG at it to serve your own:
#
#   docker build -t highway .
#   docker run --rm -p 8080:8080 highway
#   docker run --rm -p 8080:8080 -v $PWD/highway.yaml:/etc/highway/highway.yaml:ro \
#     -e HIGHWAY_CONFIG=/etc/highway/highway.yaml highway
#
# The build stage runs the same command as make build (the suite runs it
# too: deploy_test.go).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/citypopy/highway/internal/cli.buildVersion=${VERSION} -X github.com/citypopy/highway/internal/cli.buildCommit=${COMMIT} -X github.com/citypopy/highway/internal/cli.buildDate=${DATE}" -o /out/highway ./cmd/highway

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/highway /usr/local/bin/highway
USER nonroot:nonroot
ENV HIGHWAY_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/highway"]
CMD ["serve", "-log", "json"]
