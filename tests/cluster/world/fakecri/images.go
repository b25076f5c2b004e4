package fakecri

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	apitest "k8s.io/cri-api/pkg/apis/testing"
)

// Normalize returns the reference the way containerd names it: docker.io/library/nginx:latest for
// nginx, digests kept. A reference that does not parse is returned unchanged.
func Normalize(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.TagNameOnly(named).String()
}

func digestOf(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "sha256:" + hex.EncodeToString(h[:])
}

type image struct {
	id          string
	repoTags    []string
	repoDigests []string
}

func (i *image) api() *runtimeapi.Image {
	return &runtimeapi.Image{
		Id: i.id, RepoTags: append([]string(nil), i.repoTags...),
		RepoDigests: append([]string(nil), i.repoDigests...),
		Spec: &runtimeapi.ImageSpec{Image: i.id},
	}
}

// display is what containerd reports as a container's image: its first tag, or its ID when the
// image was pulled by digest only.
func (i *image) display() string {
	if len(i.repoTags) > 0 {
		return i.repoTags[0]
	}
	return i.id
}

// ref is what containerd reports as a container's imageRef: a repository digest.
func (i *image) ref() string {
	if len(i.repoDigests) > 0 {
		return i.repoDigests[0]
	}
	return i.id
}

// ImageService is an image store that names images the way containerd does, pulls with the
// configured delays and failures, and keeps what it pulled (per node, like a real image store).
type ImageService struct {
	*apitest.FakeImageService // methods not overridden here (ImageFsInfo, Close, ...)
	faults                    *FaultSource
	mu                        sync.Mutex
	byID                      map[string]*image
	byRef                     map[string]*image
}

var _ internalapi.ImageManagerService = &ImageService{}

func NewImageService(faults *FaultSource) *ImageService {
	return &ImageService{
		FakeImageService: apitest.NewFakeImageService(), faults: faults,
		byID: map[string]*image{}, byRef: map[string]*image{},
	}
}

func (s *ImageService) find(ref string) *image {
	if img, ok := s.byID[ref]; ok {
		return img
	}
	return s.byRef[Normalize(ref)]
}

// Lookup returns the image a reference or an image ID names, if the node has it.
func (s *ImageService) Lookup(ref string) (*image, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img := s.find(ref)
	return img, img != nil
}

func (s *ImageService) ListImages(_ context.Context, _ *runtimeapi.ImageFilter) ([]*runtimeapi.Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*runtimeapi.Image, 0, len(s.byID))
	for _, img := range s.byID {
		out = append(out, img.api())
	}
	return out, nil
}

func (s *ImageService) ImageStatus(_ context.Context, spec *runtimeapi.ImageSpec, _ bool) (*runtimeapi.ImageStatusResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if img := s.find(spec.GetImage()); img != nil {
		return &runtimeapi.ImageStatusResponse{Image: img.api()}, nil
	}
	return &runtimeapi.ImageStatusResponse{}, nil
}

func (s *ImageService) PullImage(ctx context.Context, spec *runtimeapi.ImageSpec, _ *runtimeapi.AuthConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	raw := spec.GetImage()
	named, err := reference.ParseNormalizedNamed(raw)
	if err != nil {
		return "", status.Errorf(codes.InvalidArgument, "failed to pull image %q: invalid reference format", raw)
	}
	ref := reference.TagNameOnly(named).String()
	f := s.faults.get()
	if d := lookup(f.pullDelay, ref); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f = s.faults.get()
	if f.pullFail[ref] {
		return "", status.Errorf(codes.NotFound,
			"failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", ref, ref, ref)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if img := s.byRef[ref]; img != nil {
		return img.id, nil
	}
	repo := named.Name()
	canonical := ref
	if a, ok := f.alias[ref]; ok {
		canonical = a
	}
	var img *image
	if d, ok := named.(reference.Digested); ok {
		// Pulled by digest: containerd keeps no tag; the ID is the image config's digest.
		img = &image{id: digestOf("config", d.Digest().String()), repoDigests: []string{repo + "@" + d.Digest().String()}}
	} else {
		id := digestOf("config", canonical)
		img = s.byID[id]
		if img == nil {
			img = &image{id: id, repoDigests: []string{repo + "@" + digestOf("manifest", canonical)}}
		}
		img.repoTags = append(img.repoTags, ref)
		if !strings.HasPrefix(img.repoDigests[0], repo+"@") {
			img.repoDigests = append(img.repoDigests, repo+"@"+digestOf("manifest", canonical))
		}
	}
	s.byID[img.id] = img
	s.byRef[ref] = img
	return img.id, nil
}

func (s *ImageService) RemoveImage(_ context.Context, spec *runtimeapi.ImageSpec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	img := s.find(spec.GetImage())
	if img == nil {
		return nil
	}
	delete(s.byID, img.id)
	for r, i := range s.byRef {
		if i == img {
			delete(s.byRef, r)
		}
	}
	return nil
}

func (s *ImageService) String() string { return fmt.Sprintf("fakecri.ImageService(%d images)", len(s.byID)) }
