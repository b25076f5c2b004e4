# -*- coding: utf-8 -*-
# Copyright: inplace.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection and auth, the one place that talks HTTP to the API server.

Auth options are those kubernetes.core users know (and the same ``K8S_AUTH_*`` variables, wired
in the shared argument spec). A plain kubeconfig (a server, its CA, a token, a client certificate or
a user and password) is read by kubeconfig.py; any other (exec plugins, auth providers, proxies) and
the in-cluster configuration are loaded by the kubernetes client. Requests go through one small JSON
transport so that every write honours check mode
(server-side dry run), transient failures are retried with backoff within a deadline, errors
become one readable message, and requests are counted.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import ssl
import tempfile
import threading
import time
from urllib.parse import urlencode

from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.kubeconfig import Settings, plain_settings, read_kubeconfig
from ansible_collections.inplace.kubernetes.plugins.module_utils._inplace.errors import (
    ApiError,
    InplaceError,
    PreconditionFailed,
    WatchExpired,
)

try:
    import urllib3
except ImportError:  # check_dependencies() tells the user
    urllib3 = None  # type: ignore[assignment]

TRANSIENT_STATUS = (429, 500, 502, 503, 504)
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
USER_AGENT = "inplace.kubernetes"
RETRY_SECONDS = 60.0  # how long transient API failures are retried (a request's deadline may cut it shorter)
MAX_CONNECTIONS = 32  # per host; the rollout patches up to 16 pods at once and Events post alongside


class Connection(object):
    """Where and how to talk to the API server: ``host``, the urllib3 ``pool``, ``auth()`` (the headers that
    authenticate a request, asked for each one: an exec plugin's token may be refreshed) and ``verify``."""

    def __init__(self, host, pool, auth, verify):
        self.host = host
        self.pool = pool
        self.auth = auth
        self.verify = verify


def _sources(params):
    """``(kubeconfig, in_cluster)``: the kubeconfig to load (a dict, a path, or ``None``: the parameters alone) and
    whether to load the in-cluster configuration instead, as kubernetes.core decides."""
    kubeconfig = params.get("kubeconfig")
    host = params.get("host")
    explicit = host and (params.get("api_key") or params.get("username") or params.get("client_cert"))
    in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token")
    default_kubeconfig = os.path.expanduser(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
    if isinstance(kubeconfig, dict):
        return kubeconfig, False
    if kubeconfig:
        path = os.path.expanduser(kubeconfig)
        _check_kubeconfig_file(path)
        return path, False
    if explicit:
        return None, False
    if params.get("context") or (os.path.exists(default_kubeconfig) and not in_cluster):
        _check_kubeconfig_file(default_kubeconfig)
        return default_kubeconfig, False
    if in_cluster:
        return None, True
    if not host:
        raise InplaceError(
            "no Kubernetes credentials: give kubeconfig (or K8S_AUTH_KUBECONFIG), or host with api_key, or run inside a pod with a service account"
        )
    return None, False


def connect_to(params):
    """The :class:`Connection` for the module's auth parameters.

    A plain kubeconfig (kubeconfig.py) or the parameters alone are read here; an exec plugin, an auth provider,
    a proxy, the in-cluster configuration and the like are loaded by the ``kubernetes`` package.
    """
    kubeconfig, in_cluster = _sources(params)
    settings = None
    try:
        if not in_cluster and not params.get("proxy"):
            if isinstance(kubeconfig, dict):
                settings = plain_settings(kubeconfig, params.get("context"), source="the kubeconfig given as a dict")
            elif kubeconfig:
                base_dir = os.path.dirname(os.path.abspath(kubeconfig))
                settings = plain_settings(read_kubeconfig(kubeconfig), params.get("context"), base_dir=base_dir, source="kubeconfig %s" % kubeconfig)
            else:
                settings = Settings()
    except InplaceError:
        raise
    except Exception as exc:  # a kubeconfig shaped in a way no check above expected
        raise InplaceError("cannot load the Kubernetes configuration: %s" % _one_line(exc)) from exc
    if settings is None:
        return _kubernetes_connection(params, kubeconfig, in_cluster)
    return _plain_connection(_overridden(settings, params))


def _overrides(params):
    """What the module's auth parameters set over a kubeconfig, as ``{Settings attribute: value}`` (a file given
    as a parameter replaces the kubeconfig's file or data)."""
    out = {}
    if params.get("host"):
        out["host"] = params["host"]
    if params.get("api_key"):
        out["token"] = params["api_key"]
    if params.get("username"):
        out.update(username=params["username"], password=params.get("password") or "")
    for option, attribute in (("ca_cert", "ca_file"), ("client_cert", "cert_file"), ("client_key", "key_file")):
        if params.get(option):
            out[attribute] = _existing(option, params[option])
            out[attribute.replace("_file", "_data")] = None
    if params.get("validate_certs") is not None:
        out["verify"] = params["validate_certs"]
    return out


# The kubernetes package's Configuration attribute of each Settings attribute (token: see _kubernetes_connection).
CONFIGURATION_ATTRIBUTES = {
    "host": "host",
    "username": "username",
    "password": "password",
    "ca_file": "ssl_ca_cert",
    "cert_file": "cert_file",
    "key_file": "key_file",
    "verify": "verify_ssl",
}


def _overridden(settings, params):
    """The module's parameters over the kubeconfig's settings."""
    for attribute, value in _overrides(params).items():
        setattr(settings, attribute, value)
    if not settings.host:
        raise InplaceError("no API server address: the kubeconfig names none and host is not set")
    return settings


def _existing(option, path):
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise InplaceError("%s %s does not exist" % (option, path))
    return path


def _plain_connection(settings):
    """A urllib3 pool verifying the server as ``settings`` say, with the client certificate loaded once (from PEM
    data through a private temporary file, removed at once)."""
    cert_reqs = ssl.CERT_REQUIRED if settings.verify else ssl.CERT_NONE
    args = {"cert_reqs": cert_reqs, "maxsize": MAX_CONNECTIONS}
    if settings.verify:
        if settings.ca_file:
            args["ca_certs"] = settings.ca_file
        if settings.ca_data:
            args["ca_cert_data"] = settings.ca_data.decode("utf-8", "replace")
    else:
        urllib3.disable_warnings()
    if settings.cert_data or settings.key_data:
        args["ssl_context"] = _client_context(settings, cert_reqs)
    elif settings.cert_file:
        args["cert_file"] = settings.cert_file
        args["key_file"] = settings.key_file
    headers = {}
    if settings.token:
        headers["authorization"] = "Bearer " + settings.token
    elif settings.username:
        headers["authorization"] = "Basic " + base64.b64encode(("%s:%s" % (settings.username, settings.password or "")).encode("utf-8")).decode("ascii")
    return Connection(settings.host.rstrip("/"), urllib3.PoolManager(**args), lambda: headers, settings.verify)


def _client_context(settings, cert_reqs):
    from urllib3.util.ssl_ import create_urllib3_context  # pylint: disable=import-outside-toplevel

    context = create_urllib3_context(cert_reqs=cert_reqs)
    directory = tempfile.mkdtemp(prefix="inplace-tls-")
    try:
        files = []
        for data, path in ((settings.cert_data, settings.cert_file), (settings.key_data, settings.key_file)):
            if data is not None:
                path = os.path.join(directory, "%d.pem" % len(files))
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            files.append(path)
        try:
            context.load_cert_chain(files[0], files[1])
        except (ssl.SSLError, OSError, TypeError) as exc:
            raise InplaceError("cannot load the client certificate and key of the kubeconfig: %s" % _one_line(exc)) from exc
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return context


def _kubernetes_connection(params, kubeconfig, in_cluster):
    """The configuration loaded by the ``kubernetes`` package, its connection pool (TLS, client certificates,
    proxy - HTTP or SOCKS - and ``no_proxy``: names, ``host:port``, CIDRs) and its auth settings."""
    try:
        import kubernetes  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise InplaceError("the kubernetes Python package is needed for this configuration and cannot be imported: %s" % _one_line(exc)) from exc
    configuration = kubernetes.client.Configuration()
    context = params.get("context")
    try:
        if isinstance(kubeconfig, dict):
            kubernetes.config.load_kube_config_from_dict(config_dict=kubeconfig, context=context, client_configuration=configuration, persist_config=False)
        elif kubeconfig:
            kubernetes.config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False)
        elif in_cluster:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
    except Exception as exc:  # ConfigException, YAML errors, bad base64 ... all mean a bad kubeconfig
        raise InplaceError("cannot load the Kubernetes configuration: %s" % _one_line(exc)) from exc
    for attribute, value in _overrides(params).items():
        if attribute == "token":
            configuration.api_key = {"authorization": "Bearer " + value}
            configuration.api_key_prefix = {}
        elif attribute in CONFIGURATION_ATTRIBUTES:
            setattr(configuration, CONFIGURATION_ATTRIBUTES[attribute], value)
    if params.get("proxy"):
        configuration.proxy = params["proxy"]
    if params.get("no_proxy"):
        configuration.no_proxy = params["no_proxy"]
    if not getattr(configuration, "host", None):
        raise InplaceError("no API server address: the kubeconfig names none and host is not set")
    configuration.connection_pool_maxsize = MAX_CONNECTIONS
    if not configuration.verify_ssl:
        urllib3.disable_warnings()

    def auth():
        try:
            settings = configuration.auth_settings()
        except Exception as exc:  # an exec credential plugin that fails to refresh the token
            raise InplaceError("cannot get the credentials for %s: %s" % (configuration.host, _one_line(exc))) from exc
        headers = {}
        for setting in settings.values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        if "authorization" not in headers and getattr(configuration, "username", None):
            headers["authorization"] = configuration.get_basic_auth_token()
        return headers

    pool = kubernetes.client.rest.RESTClientObject(configuration).pool_manager
    return Connection(configuration.host.rstrip("/"), pool, auth, configuration.verify_ssl is not False)


def _check_kubeconfig_file(path):
    if not os.path.exists(path):
        raise InplaceError("kubeconfig %s does not exist" % path)
    if not os.path.isfile(path):
        raise InplaceError("kubeconfig %s is not a file" % path)
    if not os.access(path, os.R_OK):
        raise InplaceError("kubeconfig %s is not readable by this user" % path)
    if os.path.getsize(path) == 0:
        raise InplaceError("kubeconfig %s is empty" % path)


def _one_line(exc):
    return " ".join(str(exc).split())


class Kube(object):
    """A JSON client for the Kubernetes API.

    ``dry_run`` turns every write into a server-side dry run (``dryRun=All``), so check mode runs
    admission and RBAC for real and changes nothing.
    """

    def __init__(self, params, dry_run=False, warn=None):
        self.dry_run = dry_run
        self.requests = 0
        self._lock = threading.Lock()
        self._contacted = False
        self._warn = warn or (lambda msg: None)
        connection = connect_to(params)
        self.host = connection.host
        self._pool = connection.pool
        self._auth = connection.auth
        self._impersonate_user = params.get("impersonate_user")
        self._impersonate_groups = params.get("impersonate_groups") or []
        if not connection.verify:
            self._warn("TLS certificate verification of %s is off (validate_certs: false)" % self.host)

    def _headers(self, content_type=None):
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        headers.update(self._auth())
        if self._impersonate_user:
            headers["Impersonate-User"] = self._impersonate_user
        if self._impersonate_groups:
            headers["Impersonate-Group"] = ",".join(self._impersonate_groups)
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _count(self):
        with self._lock:
            self.requests += 1

    # -- plain requests ---------------------------------------------------------------------

    def request(self, method, path, query=None, body=None, content_type="application/json", write=None, deadline=None, retry_conflicts=False):
        """Send one request and return the decoded JSON body.

        Transient failures (connection errors, 429, 5xx) are retried with exponential backoff
        until ``deadline`` (a ``time.monotonic()`` value) or the client's retry window runs out.
        Writes carry ``dryRun=All`` in check mode.
        """
        query = dict(query or {})
        write = method in ("POST", "PUT", "PATCH", "DELETE") if write is None else write
        if write and self.dry_run:
            query["dryRun"] = "All"
        url = self.host + path + ("?" + urlencode(query) if query else "")
        encoded = None
        if body is not None:
            encoded = json.dumps(body).encode("utf-8")
        window = RETRY_SECONDS if self._contacted else min(RETRY_SECONDS, 5.0)
        give_up = time.monotonic() + window
        if deadline is not None:
            give_up = min(give_up, deadline)
        delay = 0.2
        while True:
            self._count()
            try:
                response = self._pool.request(
                    method,
                    url,
                    body=encoded,
                    headers=self._headers(content_type if body is not None else None),
                    timeout=urllib3.Timeout(connect=5.0, read=60.0),
                    retries=False,
                    preload_content=True,
                )
            except urllib3.exceptions.HTTPError as exc:
                if time.monotonic() + delay < give_up:
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                raise ApiError("cannot reach the Kubernetes API server at %s (%s %s): %s" % (self.host, method, path, _one_line(exc)), status=0) from exc
            self._contacted = True
            status = response.status
            if status < 400:
                data = response.data
                return json.loads(data) if data else {}
            error = _decode_status(response.data)
            retriable = status in TRANSIENT_STATUS and not _is_test_failure(error, method == "PATCH") or (retry_conflicts and status == 409)
            if retriable and time.monotonic() + delay < give_up:
                retry_after = response.headers.get("Retry-After")
                wait = delay
                if retry_after and retry_after.isdigit():
                    wait = max(wait, min(float(retry_after), 10.0))
                time.sleep(wait * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, 5.0)
                continue
            raise _api_error(status, error, method, path)

    def get(self, path, query=None, deadline=None):
        return self.request("GET", path, query=query, deadline=deadline)

    def json_patch(self, path, patch, deadline=None):
        ops = patch.patch if hasattr(patch, "patch") else list(patch)
        return self.request("PATCH", path, body=ops, content_type=JSON_PATCH, deadline=deadline)

    def merge_patch(self, path, patch, deadline=None):
        return self.request("PATCH", path, body=patch, content_type=MERGE_PATCH, deadline=deadline)

    def post(self, path, body, deadline=None):
        return self.request("POST", path, body=body, deadline=deadline)

    # -- watch ------------------------------------------------------------------------------

    def watch(self, path, query, timeout_seconds):
        """Yield ``(type, object)`` events of a watch; raise :class:`WatchExpired` on 410."""
        query = dict(query or {})
        query.update({"watch": "1", "allowWatchBookmarks": "true", "timeoutSeconds": str(max(1, int(timeout_seconds)))})
        url = self.host + path + "?" + urlencode(query)
        self._count()
        try:
            response = self._pool.request(
                "GET", url, headers=self._headers(), preload_content=False, retries=False, timeout=urllib3.Timeout(connect=5.0, read=timeout_seconds + 15.0)
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ApiError("cannot reach the Kubernetes API server at %s: %s" % (self.host, _one_line(exc)), status=0) from exc
        try:
            if response.status >= 400:
                error = _decode_status(response.read())
                if response.status == 410:
                    raise WatchExpired()
                raise _api_error(response.status, error, "WATCH", path)
            buffer = b""
            for chunk in response.stream(65536, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            raise WatchExpired()
                        raise _api_error(obj.get("code") or 500, obj, "WATCH", path)
                    yield kind, obj
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiError("watch on %s interrupted: %s" % (path, _one_line(exc)), status=0) from exc
        finally:
            response.release_conn()


def _decode_status(data):
    try:
        status = json.loads(data)
        return status if isinstance(status, dict) else {"message": str(status)}
    except (ValueError, TypeError):
        return {"message": (data or b"").decode("utf-8", "replace")[:500]}


def _is_test_failure(error, patch=False):
    """Whether a failed request was a JSON patch whose ``test`` operation failed.

    Since Kubernetes 1.13 the API server answers a failed ``test`` with 422 ``Invalid``, the generic
    message "the server rejected our request due to an error in our request" and no causes; older
    servers answered 500 naming the failed test. A real validation error names its causes.
    """
    message = (error.get("message") or "").lower()
    if "test failed" in message or "testing value" in message:
        return True
    return bool(
        patch
        and error.get("code", 422) == 422
        and error.get("reason") == "Invalid"
        and not (error.get("details") or {}).get("causes")
        and "rejected our request due to an error in our request" in message
    )


def _api_error(status, error, method, path):
    message = error.get("message") or error.get("reason") or "HTTP %d" % status
    reason = error.get("reason") or ""
    if _is_test_failure(error, method == "PATCH"):
        return PreconditionFailed("%s %s: the object changed since it was read (%s)" % (method, path, message), status=status, reason="Conflict")
    if status == 401:
        text = "the API server rejected the credentials (401 Unauthorized) for %s %s" % (method, path)
    elif status == 403:
        text = "forbidden (403): %s" % message
    elif status == 404:
        text = "not found (404): %s" % message
    else:
        text = "%s %s failed (%d %s): %s" % (method, path, status, reason, message)
    return ApiError(text, status=status, reason=reason)


def connect(module, params=None):
    """A :class:`Kube` for a module's parameters; check mode means server-side dry run."""
    return Kube(params or module.params, dry_run=module.check_mode, warn=module.warn)
