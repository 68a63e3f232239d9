// The libcurl HttpTransport. Easy handles are reused so that keep-alive connections and TLS sessions carry
// over between batches; each call takes an idle handle (the most recently used first) and makes one only
// when every handle is busy, so concurrent calls (the uploader's two batches on the wire) each have their own
// connection and one caller at a time keeps reusing one.
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <vector>

#include "sync_log.h"
#include "workmonitor/sync/gzip.h"
#include "workmonitor/sync/transport.h"

namespace wm::sync {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(user)->load() ? 1 : 0;  // non-zero aborts the transfer
}

size_t onBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<Headers*>(user);
  std::string_view line(data, size * n);
  // A new status line starts a new header block (after a 100 Continue or a proxy's CONNECT reply).
  if (line.starts_with("HTTP/")) {
    headers->clear();
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos)
    headers->emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  return size * n;
}

NetError classify(CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return NetError::kInvalidUrl;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return NetError::kResolve;
    case CURLE_COULDNT_CONNECT:
      return NetError::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return NetError::kTimeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return NetError::kTls;
    case CURLE_SEND_ERROR:
      return NetError::kSend;
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return NetError::kReceive;
    default:
      return NetError::kOther;
  }
}

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(TransportOptions o) : options_(std::move(o)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }
  ~CurlTransport() override {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  size_t concurrency() const override { return std::max<size_t>(1, options_.parallel_requests); }

  HttpResult send(const HttpRequest& req) override {
    if (cancelled_) return std::unexpected(TransportError{NetError::kCancelled, "the transport was shut down"});
    CURL* h = take();
    if (!h) return std::unexpected(TransportError{NetError::kOther, "libcurl could not be initialised"});
    HttpResult r = perform(h, req);
    give(h);
    return r;
  }

  void cancelAll() override { cancelled_ = true; }

  std::string describe() const override {
    const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
    std::string s = std::string("libcurl ") + v->version;
    if (v->ssl_version) s += std::string(" (") + v->ssl_version + ")";
    if (options_.ca_bundle) s += ", CA bundle " + options_.ca_bundle->string();
    return s;
  }

 private:
  CURL* take() {
    {
      std::lock_guard lk(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void give(CURL* h) {
    std::lock_guard lk(mu_);
    idle_.push_back(h);
  }

  HttpResult perform(CURL* h, const HttpRequest& req) {
    if (!req.url.starts_with("https://") && !req.url.starts_with("http://"))
      return std::unexpected(
          TransportError{NetError::kInvalidUrl, "the server URL must start with https:// or http://"});

    std::string compressed;
    const std::string* body = &req.body;
    if (req.gzip_body && !req.gzipped_body.empty()) {
      body = &req.gzipped_body;
    } else if (req.gzip_body) {
      auto gz = gzipCompress(req.body);
      if (!gz) return std::unexpected(TransportError{NetError::kOther, gz.error().message});
      compressed = std::move(*gz);
      body = &compressed;
    }

    curl_easy_reset(h);
    curl_slist* list = nullptr;
    for (const auto& [name, value] : req.headers) list = curl_slist_append(list, (name + ": " + value).c_str());
    if (req.gzip_body) list = curl_slist_append(list, "Content-Encoding: gzip");
    // No "Expect: 100-continue" round trip before large bodies: the server answers the request anyway.
    list = curl_slist_append(list, "Expect:");

    HttpResponse resp;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    // Verification is always on, whatever the defaults of the libcurl build; only the trust anchors vary.
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (options_.ca_bundle) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_bundle->c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
    curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // replies may come compressed; curl decodes them
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, onProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &cancelled_);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, onBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, onHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.headers);
    if (req.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (req.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
      if (req.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    // Proxy: nothing set, so libcurl reads http_proxy/https_proxy/no_proxy from the environment.

    const CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(list);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
      return std::unexpected(TransportError{NetError::kCancelled, "the transport was shut down"});
    if (rc != CURLE_OK) {
      // errbuf names hosts and certificate problems, never the request path or query.
      std::string msg = errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
      return std::unexpected(TransportError{classify(rc), std::move(msg)});
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    resp.status = static_cast<int>(status);
    return resp;
  }

  TransportOptions options_;
  std::mutex mu_;
  std::vector<CURL*> idle_;  // handles not in use, the most recently used last
  std::atomic<bool> cancelled_{false};
};

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  const std::string want = lower(name);
  for (const auto& [n, v] : headers)
    if (lower(n) == want) return v;
  return std::nullopt;
}

const char* netErrorName(NetError e) {
  switch (e) {
    case NetError::kInvalidUrl:
      return "invalid_url";
    case NetError::kResolve:
      return "resolve";
    case NetError::kConnect:
      return "connect";
    case NetError::kTimeout:
      return "timeout";
    case NetError::kTls:
      return "tls";
    case NetError::kSend:
      return "send";
    case NetError::kReceive:
      return "receive";
    case NetError::kCancelled:
      return "cancelled";
    case NetError::kOther:
      return "other";
  }
  return "other";
}

std::string redactUrl(std::string_view url) {
  const auto cut = url.find_first_of("?#");
  return std::string(url.substr(0, cut));
}

std::unique_ptr<HttpTransport> makeCurlTransport(const TransportOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace wm::sync
