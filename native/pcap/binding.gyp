{
  # Node-API addon for live capture (src/live/pcap-addon.ts loads build/Release/imds_pcap.node):
  # libpcap capture, capability dropping, file space reservation; one file a job, see
  # src/addon.c. Built by native/build.mjs at install time: needs pcap.h (libpcap-dev) to build,
  # the libpcap runtime library only to capture.
  "targets": [
    {
      "target_name": "imds_pcap",
      "sources": [
        "src/addon.c",
        "src/js_capture.c",
        "src/js_capabilities.c",
        "src/js_file_space.c",
        "src/js_libpcap.c",
        "src/libpcap.c",
        "src/capture_open.c",
        "src/capture_read.c",
        "src/capture_watch.c",
        "src/interface_index.c",
        "src/capabilities.c",
        "src/arguments.c",
        "src/error.c"
      ],
      "include_dirs": ["../common"],
      # Portable across glibc versions (2.17 on): native/common/portable.h says why and how.
      "cflags": ["-include", "<(module_root_dir)/../common/portable.h"],
      "ldflags": ["-static-libgcc"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      # No -lpcap: libpcap is opened at run time by its soname (src/libpcap.h); only pcap.h is
      # needed to build.
      "libraries": []
    }
  ]
}
