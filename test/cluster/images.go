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
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// NonRootUID is the user of the base image: numeric, because Knative's
// Deployments ask for runAsNonRoot without a runAsUser, which the kubelet
// can only check for a numeric image user.
const NonRootUID = 65532

// layerTime is the modification time of every file in a layer the cluster
// makes, so the same inputs give the same digests.
var layerTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// File is one entry of an image layer.
type File struct {
	// Path is the absolute path in the image.
	Path string
	// Mode holds the permission bits, plus fs.ModeDir for a directory.
	Mode fs.FileMode
	// UID and GID own the entry.
	UID, GID int
	// Data is the content of a regular file, unless Source is set.
	Data []byte
	// Source is a file on the host to copy the content from.
	Source string
}

// ImageSpec describes an image the cluster builds without a Dockerfile: an
// optional base image of this registry, one layer of files on top, and the
// runtime configuration.
type ImageSpec struct {
	// Base is a REPO@DIGEST or REPO:TAG of this registry; empty for none.
	Base       string
	Files      []File
	Entrypoint []string
	Cmd        []string
	Env        []string
	// User is numeric ("65532"); empty inherits the base's.
	User       string
	WorkingDir string
}

type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Created      string `json:"created,omitempty"`
	Config       struct {
		User       string   `json:"User,omitempty"`
		Env        []string `json:"Env,omitempty"`
		Entrypoint []string `json:"Entrypoint,omitempty"`
		Cmd        []string `json:"Cmd,omitempty"`
		WorkingDir string   `json:"WorkingDir,omitempty"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type imageManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

// layer writes files as a gzipped tar; it returns the compressed bytes and
// the digest of the uncompressed tar (the layer's diff ID). Parent
// directories are added as needed (root-owned, 0755).
func layer(files []File) (gz []byte, diffID string, err error) {
	entries := map[string]File{}
	for _, f := range files {
		p := path.Clean("/" + f.Path)
		entries[p] = f
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = File{Path: d, Mode: fs.ModeDir | 0o755}
			}
		}
	}
	names := make([]string, 0, len(entries))
	for p := range entries {
		names = append(names, p)
	}
	sort.Strings(names)
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, p := range names {
		f := entries[p]
		h := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    int64(f.Mode.Perm()),
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: layerTime,
			Format:  tar.FormatPAX,
		}
		if f.Mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		data := f.Data
		if f.Mode.IsDir() {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			if f.Source != "" {
				if data, err = os.ReadFile(f.Source); err != nil {
					return nil, "", fmt.Errorf("image file %s: %w", p, err)
				}
			}
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, "", err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	diffID = digestOf(raw.Bytes())
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if err != nil {
		return nil, "", err
	}
	if _, err := io.Copy(zw, &raw); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), diffID, nil
}

// BuildImage pushes the image spec describes to REPO:TAG of the registry
// and returns its reference by digest (HOST/REPO@sha256:…). Images are
// cached in the kntrace cache by their inputs (host files by content), so a
// second cluster only pushes the manifest again.
func (r *Registry) BuildImage(ctx context.Context, repo, tag string, spec ImageSpec) (string, error) {
	var entry string
	if r.cacheDir != "" {
		key, err := imageKey(repo, tag, spec)
		if err != nil {
			return "", err
		}
		entry = filepath.Join(r.cacheDir, "images", key)
		if ref, err := r.cachedYAML(ctx, entry); err == nil {
			// The cache pushes by digest; the tag is this registry's.
			_, digest := splitRef(strings.TrimPrefix(ref, r.Host+"/"))
			mt, body, err := r.manifest(ctx, repo, digest)
			if err != nil {
				return "", err
			}
			if err := r.pushManifest(ctx, repo, tag, mt, body); err != nil {
				return "", err
			}
			return ref, nil
		} else if !errors.Is(err, errNotCached) {
			return "", err
		}
	}
	var cfg imageConfig
	var layers []descriptor
	if spec.Base != "" {
		baseRepo, baseRef := splitRef(spec.Base)
		mt, body, err := r.manifest(ctx, baseRepo, baseRef)
		if err != nil {
			return "", fmt.Errorf("base image %s: %w", spec.Base, err)
		}
		if mt != mediaOCIManifest && mt != mediaDockerImage {
			return "", fmt.Errorf("base image %s is a %s; want one image manifest", spec.Base, mt)
		}
		var m imageManifest
		if err := json.Unmarshal(body, &m); err != nil {
			return "", fmt.Errorf("base image %s: %w", spec.Base, err)
		}
		cb, err := r.blob(ctx, baseRepo, m.Config.Digest)
		if err != nil {
			return "", fmt.Errorf("base image %s: %w", spec.Base, err)
		}
		if err := json.Unmarshal(cb, &cfg); err != nil {
			return "", fmt.Errorf("base image %s config: %w", spec.Base, err)
		}
		// The layers are in the registry's blob store already; mounting
		// them into repo is a push of nothing when repo differs.
		for _, l := range m.Layers {
			b, err := r.blob(ctx, baseRepo, l.Digest)
			if err != nil {
				return "", fmt.Errorf("base image %s: %w", spec.Base, err)
			}
			if _, err := r.pushBlob(ctx, repo, b); err != nil {
				return "", err
			}
			layers = append(layers, l)
		}
	}
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = layerTime.Format(time.RFC3339)
	if spec.User != "" {
		cfg.Config.User = spec.User
	}
	if spec.Entrypoint != nil {
		cfg.Config.Entrypoint = spec.Entrypoint
	}
	if spec.Cmd != nil {
		cfg.Config.Cmd = spec.Cmd
	}
	if spec.WorkingDir != "" {
		cfg.Config.WorkingDir = spec.WorkingDir
	}
	cfg.Config.Env = mergeEnv(cfg.Config.Env, spec.Env)
	cfg.RootFS.Type = "layers"
	if len(spec.Files) > 0 {
		gz, diffID, err := layer(spec.Files)
		if err != nil {
			return "", err
		}
		d, err := r.pushBlob(ctx, repo, gz)
		if err != nil {
			return "", err
		}
		layers = append(layers, descriptor{MediaType: mediaOCILayer, Digest: d, Size: int64(len(gz))})
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	cd, err := r.pushBlob(ctx, repo, cb)
	if err != nil {
		return "", err
	}
	m := imageManifest{SchemaVersion: 2, MediaType: mediaOCIManifest,
		Config: descriptor{MediaType: mediaOCIConfig, Digest: cd, Size: int64(len(cb))}, Layers: layers}
	if m.Layers == nil {
		m.Layers = []descriptor{}
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	if err := r.pushManifest(ctx, repo, tag, mediaOCIManifest, mb); err != nil {
		return "", err
	}
	ref := r.Host + "/" + repo + "@" + digestOf(mb)
	if entry != "" {
		if err := r.cacheYAML(ctx, entry, ref); err != nil {
			return "", fmt.Errorf("cache image %s: %w", ref, err)
		}
	}
	return ref, nil
}

// blob fetches a blob.
func (r *Registry) blob(ctx context.Context, repo, digest string) ([]byte, error) {
	b, err := r.get(ctx, "/v2/"+repo+"/blobs/"+digest)
	if err != nil {
		return nil, fmt.Errorf("blob %s of %s: %w", digest, repo, err)
	}
	return b, nil
}

// splitRef splits REPO@DIGEST or REPO:TAG (without the registry host).
func splitRef(ref string) (repo, tagOrDigest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

// mergeEnv sets each KEY=VALUE of add in env, replacing an earlier KEY.
func mergeEnv(env, add []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// imageKey hashes what an image is made of.
func imageKey(repo, tag string, spec ImageSpec) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s:%s\n", repo, tag)
	files := spec.Files
	spec.Files = nil
	if err := json.NewEncoder(h).Encode(spec); err != nil {
		return "", err
	}
	for _, f := range files {
		fmt.Fprintf(h, "%s %o %d %d %x\n", f.Path, uint32(f.Mode), f.UID, f.GID, sha256.Sum256(f.Data))
		if f.Source != "" {
			src, err := os.Open(f.Source)
			if err != nil {
				return "", fmt.Errorf("image file %s: %w", f.Path, err)
			}
			_, err = io.Copy(h, src)
			src.Close()
			if err != nil {
				return "", fmt.Errorf("image file %s: %w", f.Path, err)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// baseImageFiles is the base image every Go image of the cluster starts
// from (ko's default base and the one the cluster's own images use): a
// nonroot user 65532, CA certificates and a world-writable /tmp.
func baseImageFiles() ([]File, error) {
	files := []File{
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRootUID, NonRootUID))},
		{Path: "/etc/group", Mode: 0o644, Data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", NonRootUID))},
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Data: []byte("hosts: files dns\n")},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/home/nonroot", Mode: fs.ModeDir | 0o700, UID: NonRootUID, GID: NonRootUID},
		{Path: "/root", Mode: fs.ModeDir | 0o700},
	}
	const caBundle = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(caBundle); err != nil {
		return nil, fmt.Errorf("the base image takes the machine's CA certificates from %s: %w (install Debian's ca-certificates)", caBundle, err)
	}
	files = append(files, File{Path: caBundle, Mode: 0o644, Source: caBundle})
	return files, nil
}
