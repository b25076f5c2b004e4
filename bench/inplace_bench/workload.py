# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is measured: the image change every scenario makes, and the scenarios' names (pure)."""

from __future__ import annotations

OLD_IMAGE = "nginx:1.19-alpine"
NEW_IMAGE = "nginx:1.21-alpine"
NEW_IMAGE_STATUS = "docker.io/library/nginx:1.21-alpine"  # as a containerd-like runtime (the fake CRI) reports it
CONTAINER = "app"
SELECTOR = "app=web"

SCENARIOS = ("rolling", "seed", "module", "bare", "role", "core")
TITLES = {
    "rolling": "1 Deployment rolling update (25%/25%)",
    "seed": "2 seed: patch pods one by one",
    "module": "3 k8s_inplace_upgrade, one call",
    "bare": "3r bare client: 16 threads patch, one watch (reference of 3)",
    "role": "4 inplace_upgrade role, batch 25%",
    "core": "5 kubernetes.core json_patch loop + k8s_info poll",
}
