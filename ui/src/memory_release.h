// Giving back what a closed window leaves behind. The style's cached drawings (button frames and the like in
// QPixmapCache) outlive the windows they were drawn for, and glibc keeps freed memory inside the process:
// by itself it returns only the top of the main heap, while a window's widgets and text layouts are freed
// all over it. So once a window is deleted the tray drops the cached drawings (re-drawn when next needed)
// and asks glibc to return every whole free page (malloc_trim).
#pragma once

class QObject;

namespace wm::tray {

/// Does the above once the event loop has run for a second after the last request (requests in between
/// coalesce into one). Nothing without a QCoreApplication.
void releaseMemorySoon();

/// releaseMemorySoon() when `object` is destroyed.
void releaseMemoryAfter(QObject* object);

}  // namespace wm::tray
