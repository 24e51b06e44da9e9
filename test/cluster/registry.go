/*
Copyright 2026 The kntrace Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kntrace/kntrace/test/proc"
)

// Media types of the images the cluster makes.
const (
	mediaOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaOCIIndex    = "application/vnd.oci.image.index.v1+json"
	mediaOCIConfig   = "application/vnd.oci.image.config.v1+json"
	mediaOCILayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaDockerList  = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaDockerImage = "application/vnd.docker.distribution.manifest.v2+json"
)

// Registry is the cluster's image registry: `crane registry serve` on
// loopback, plain HTTP. Blobs are kept on disk in the kntrace cache across
// clusters; manifests live in the registry's memory, so what a cluster needs
// from an earlier build is pushed again at start (see restoreManifests).
// containerd pulls from it through a hosts.toml, ko pushes to it as
// KO_DOCKER_REPO.
type Registry struct {
	// Host is host:port, e.g. 127.0.0.1:40123; an image is Host/REPO@DIGEST.
	Host string

	proc     *proc.Process
	client   *http.Client
	cacheDir string
}

// startRegistry starts crane's registry on a free loopback port, blobs in
// cacheDir/blobs and what it built before in cacheDir/images, its log in
// stateDir. The blob directory is passed through a link in stateDir, so
// that the registry's command line names the state directory like every
// other process of the cluster (which is how a crashed run's are found).
func startRegistry(crane, cacheDir, stateDir string) (*Registry, error) {
	blobDir := filepath.Join(cacheDir, "blobs")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		return nil, fmt.Errorf("registry blob directory %s: %w", blobDir, err)
	}
	link := filepath.Join(stateDir, "registry-blobs")
	_ = os.Remove(link)
	if err := os.Symlink(blobDir, link); err != nil {
		return nil, err
	}
	ports, err := proc.FreePorts(1)
	if err != nil {
		return nil, err
	}
	r := &Registry{Host: "127.0.0.1:" + strconv.Itoa(ports[0]), client: &http.Client{Timeout: 2 * time.Minute}, cacheDir: cacheDir}
	r.proc, err = proc.Start("registry", crane, []string{"registry", "serve", "--address", r.Host, "--disk", link},
		proc.WithLogDir(filepath.Join(stateDir, "logs")), proc.WithGrace(2*time.Second))
	if err != nil {
		return nil, err
	}
	if err := r.proc.WaitFor(30*time.Second, "/v2/", proc.HTTPReady(nil, "http://"+r.Host+"/v2/")); err != nil {
		r.proc.Kill()
		return nil, fmt.Errorf("image registry: %w", err)
	}
	return r, nil
}

func (r *Registry) stop() {
	if r != nil && r.proc != nil {
		r.proc.Stop()
	}
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pushBlob uploads b into repo unless the registry has it.
func (r *Registry) pushBlob(ctx context.Context, repo string, b []byte) (string, error) {
	d := digestOf(b)
	base := "http://" + r.Host + "/v2/" + repo + "/blobs/"
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, base+d, nil)
	if err != nil {
		return "", err
	}
	if resp, err := r.client.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return d, nil
		}
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"uploads/?digest="+d, bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if err := r.do(req, http.StatusCreated); err != nil {
		return "", fmt.Errorf("push blob %s to %s/%s: %w", d, r.Host, repo, err)
	}
	return d, nil
}

// pushManifest puts a manifest under ref (a tag or its digest).
func (r *Registry) pushManifest(ctx context.Context, repo, ref, mediaType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+r.Host+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	if err := r.do(req, http.StatusCreated); err != nil {
		return fmt.Errorf("push manifest %s/%s:%s: %w", r.Host, repo, ref, err)
	}
	return nil
}

// manifest fetches a manifest and its media type.
func (r *Registry) manifest(ctx context.Context, repo, ref string) (mediaType string, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Host+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Accept", strings.Join([]string{mediaOCIManifest, mediaOCIIndex, mediaDockerImage, mediaDockerList}, ","))
	resp, err := r.client.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("GET manifest %s/%s:%s: %s: %s", r.Host, repo, ref, resp.Status, strings.TrimSpace(string(body)))
	}
	return resp.Header.Get("Content-Type"), body, nil
}

// get fetches a path of the registry API.
func (r *Registry) get(ctx context.Context, p string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Host+p, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", p, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func (r *Registry) do(req *http.Request, want int) error {
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// savedManifest is one manifest kept on disk so that a later registry can
// serve an image whose blobs it already has.
type savedManifest struct {
	Repo      string `json:"repo"`
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Body      []byte `json:"body"`
}

// imageRefPattern matches HOST/REPO@sha256:HEX for this registry's host in
// text such as resolved YAML.
func (r *Registry) imageRefPattern() *regexp.Regexp {
	return regexp.MustCompile(regexp.QuoteMeta(r.Host) + `/([a-z0-9._/-]+)@(sha256:[a-f0-9]{64})`)
}

// saveManifests writes the manifests of every image of this registry named
// by digest in text (and the images an index names) to path.
func (r *Registry) saveManifests(ctx context.Context, text, path string) error {
	var saved []savedManifest
	seen := map[string]bool{}
	var walk func(repo, digest string) error
	walk = func(repo, digest string) error {
		if seen[repo+"@"+digest] {
			return nil
		}
		seen[repo+"@"+digest] = true
		mt, body, err := r.manifest(ctx, repo, digest)
		if err != nil {
			return err
		}
		if mt == mediaOCIIndex || mt == mediaDockerList {
			var idx struct {
				Manifests []struct {
					Digest    string `json:"digest"`
					MediaType string `json:"mediaType"`
				} `json:"manifests"`
			}
			if err := json.Unmarshal(body, &idx); err != nil {
				return fmt.Errorf("index %s@%s: %w", repo, digest, err)
			}
			for _, m := range idx.Manifests {
				if err := walk(repo, m.Digest); err != nil {
					return err
				}
			}
		}
		// Children before their index: restore pushes in this order.
		saved = append(saved, savedManifest{Repo: repo, Digest: digest, MediaType: mt, Body: body})
		return nil
	}
	for _, m := range r.imageRefPattern().FindAllStringSubmatch(text, -1) {
		if err := walk(m[1], m[2]); err != nil {
			return err
		}
	}
	b, err := json.Marshal(saved)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// restoreManifests pushes the manifests saveManifests wrote; it fails when
// a blob they need is gone (the caller then builds again).
func (r *Registry) restoreManifests(ctx context.Context, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var saved []savedManifest
	if err := json.Unmarshal(b, &saved); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, m := range saved {
		if m.MediaType == mediaOCIManifest || m.MediaType == mediaDockerImage {
			if err := r.checkBlobs(ctx, m); err != nil {
				return err
			}
		}
		if err := r.pushManifest(ctx, m.Repo, m.Digest, m.MediaType, m.Body); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry) checkBlobs(ctx context.Context, m savedManifest) error {
	var man struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(m.Body, &man); err != nil {
		return fmt.Errorf("manifest %s@%s: %w", m.Repo, m.Digest, err)
	}
	digests := []string{man.Config.Digest}
	for _, l := range man.Layers {
		digests = append(digests, l.Digest)
	}
	for _, d := range digests {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+r.Host+"/v2/"+m.Repo+"/blobs/"+d, nil)
		if err != nil {
			return err
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("blob %s of %s@%s is not in the registry's store", d, m.Repo, m.Digest)
		}
	}
	return nil
}

// hostPlaceholder stands for the registry's host:port in cached YAML: the
// port changes from cluster to cluster, the digests do not.
const hostPlaceholder = "kntrace-registry.invalid"

// errNotCached says a cache entry is missing or unusable.
var errNotCached = errors.New("not cached")

// cachedYAML returns the YAML cached under dir with this registry's host,
// after pushing the manifests it needs; errNotCached when dir holds none.
func (r *Registry) cachedYAML(ctx context.Context, dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "resolved.yaml"))
	if err != nil {
		return "", errNotCached
	}
	if err := r.restoreManifests(ctx, filepath.Join(dir, "manifests.json")); err != nil {
		return "", fmt.Errorf("%w: %v", errNotCached, err)
	}
	return strings.ReplaceAll(string(b), hostPlaceholder, r.Host), nil
}

// cacheYAML keeps resolved YAML and the manifests of the images it names
// under dir.
func (r *Registry) cacheYAML(ctx context.Context, dir, yaml string) error {
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := r.saveManifests(ctx, yaml, filepath.Join(tmp, "manifests.json")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "resolved.yaml"), []byte(strings.ReplaceAll(yaml, r.Host, hostPlaceholder)), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}
