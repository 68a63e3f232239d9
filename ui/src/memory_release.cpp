#include "memory_release.h"

#include <cstdlib>  // defines __GLIBC__ on glibc

#include <QCoreApplication>
#include <QPixmapCache>
#include <QTimer>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace wm::tray {

namespace {
// Late enough for what a deletion sets off (deferred deletions, the X window's teardown) to be freed too.
constexpr int kReleaseDelayMs = 1000;
bool release_pending = false;
}  // namespace

void releaseMemorySoon() {
  QCoreApplication* app = QCoreApplication::instance();
  if (release_pending || app == nullptr) return;
  release_pending = true;
  QTimer::singleShot(kReleaseDelayMs, app, [] {
    release_pending = false;
    QPixmapCache::clear();
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
  });
}

void releaseMemoryAfter(QObject* object) {
  QObject::connect(object, &QObject::destroyed, [] { releaseMemorySoon(); });
}

}  // namespace wm::tray
