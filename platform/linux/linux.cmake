# The Linux (X11) platform module's dependencies: libxcb and the extensions the capabilities use.
# GLOBAL so the imported target resolves in every directory that links wm_platform (it is a static library).
find_package(PkgConfig REQUIRED)
pkg_check_modules(WM_XCB REQUIRED IMPORTED_TARGET GLOBAL xcb xcb-screensaver xcb-res)
target_sources(wm_platform PRIVATE ${CMAKE_CURRENT_LIST_DIR}/xcb_connection.cpp)
target_link_libraries(wm_platform PRIVATE PkgConfig::WM_XCB Threads::Threads)
# USB device events (usb_linux.cpp): the libudev monitor and enumeration.
pkg_check_modules(WM_UDEV REQUIRED IMPORTED_TARGET GLOBAL libudev)
target_link_libraries(wm_platform PRIVATE PkgConfig::WM_UDEV)
# Lock, unlock, sleep and resume (session_events_linux.cpp): logind over D-Bus through sd-bus (libsystemd).
pkg_check_modules(WM_SYSTEMD REQUIRED IMPORTED_TARGET GLOBAL libsystemd)
target_link_libraries(wm_platform PRIVATE PkgConfig::WM_SYSTEMD)
# Keyboard/mouse activity counts (input_counts_linux.cpp): XInput2 raw events through xcb-xinput.
pkg_check_modules(WM_XCB_XINPUT REQUIRED IMPORTED_TARGET GLOBAL xcb-xinput)
target_link_libraries(wm_platform PRIVATE PkgConfig::WM_XCB_XINPUT)
# Screen capture (screen_capture_linux.cpp): RandR 1.5 monitors and MIT-SHM GetImage into shared memory.
pkg_check_modules(WM_XCB_SHOT REQUIRED IMPORTED_TARGET GLOBAL xcb-shm xcb-randr)
target_link_libraries(wm_platform PRIVATE PkgConfig::WM_XCB_SHOT)
