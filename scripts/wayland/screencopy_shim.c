/*
 * LD_PRELOAD shim for xdg-desktop-portal-wlr 0.7.x on a GPU-less wlroots (tests/CI only).
 *
 * Why: portal-wlr 0.7 waits for the `linux_dmabuf` event of zwlr_screencopy_frame_v1 (v3)
 * before `buffer_done` and refuses to cast without it ("unable to receive a valid format from
 * wlr_screencopy"). A compositor on the pixman renderer (sway headless, no GPU) never sends it,
 * so Start fails. portal-wlr 0.8 dropped that check. This shim wraps wl_proxy_add_listener: for
 * a zwlr_screencopy_frame_v1 proxy it installs its own listener that forwards every event and,
 * just before `buffer_done`, delivers linux_dmabuf(XRGB8888, width, height) with the size of
 * the shm `buffer` event. portal-wlr then negotiates shared-memory buffers as usual.
 *
 * Built by `make wayland-shim` (scripts/wayland/wlstack.py builds it too) into .cache/wayland/;
 * no libwayland headers needed: the few declarations below match libwayland-client's ABI.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

struct wl_proxy;
extern const char *wl_proxy_get_class(struct wl_proxy *proxy);

typedef void (*fn_t)(void);
typedef int (*add_listener_t)(struct wl_proxy *, fn_t *, void *);

/* zwlr_screencopy_frame_v1 events, in protocol order (v3). */
enum { EV_BUFFER, EV_FLAGS, EV_READY, EV_FAILED, EV_DAMAGE, EV_LINUX_DMABUF, EV_BUFFER_DONE,
       EV_COUNT };

#define DRM_FORMAT_XRGB8888 0x34325258u
#define SLOTS 64

/* One slot per live frame proxy: its original listener and the size of its shm buffer. */
struct slot {
    struct wl_proxy *proxy;
    const fn_t *orig;
    uint32_t width, height;
    int dmabuf_seen;
};

static struct slot slots[SLOTS];
static unsigned next_slot;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct slot *find(struct wl_proxy *proxy) {
    for (unsigned i = 0; i < SLOTS; i++)
        if (slots[i].proxy == proxy)
            return &slots[i];
    return NULL;
}

typedef void (*buffer_fn)(void *, struct wl_proxy *, uint32_t, uint32_t, uint32_t, uint32_t);
typedef void (*flags_fn)(void *, struct wl_proxy *, uint32_t);
typedef void (*ready_fn)(void *, struct wl_proxy *, uint32_t, uint32_t, uint32_t);
typedef void (*failed_fn)(void *, struct wl_proxy *);
typedef void (*damage_fn)(void *, struct wl_proxy *, uint32_t, uint32_t, uint32_t, uint32_t);
typedef void (*dmabuf_fn)(void *, struct wl_proxy *, uint32_t, uint32_t, uint32_t);
typedef void (*done_fn)(void *, struct wl_proxy *);

static const fn_t *orig_of(struct wl_proxy *p) {
    pthread_mutex_lock(&lock);
    struct slot *s = find(p);
    const fn_t *o = s ? s->orig : NULL;
    pthread_mutex_unlock(&lock);
    return o;
}

static void on_buffer(void *d, struct wl_proxy *p, uint32_t fmt, uint32_t w, uint32_t h,
                      uint32_t stride) {
    pthread_mutex_lock(&lock);
    struct slot *s = find(p);
    const fn_t *o = NULL;
    if (s) { s->width = w; s->height = h; o = s->orig; }
    pthread_mutex_unlock(&lock);
    if (o && o[EV_BUFFER]) ((buffer_fn)o[EV_BUFFER])(d, p, fmt, w, h, stride);
}

static void on_flags(void *d, struct wl_proxy *p, uint32_t flags) {
    const fn_t *o = orig_of(p);
    if (o && o[EV_FLAGS]) ((flags_fn)o[EV_FLAGS])(d, p, flags);
}

static void on_ready(void *d, struct wl_proxy *p, uint32_t hi, uint32_t lo, uint32_t ns) {
    const fn_t *o = orig_of(p);
    if (o && o[EV_READY]) ((ready_fn)o[EV_READY])(d, p, hi, lo, ns);
}

static void on_failed(void *d, struct wl_proxy *p) {
    const fn_t *o = orig_of(p);
    if (o && o[EV_FAILED]) ((failed_fn)o[EV_FAILED])(d, p);
}

static void on_damage(void *d, struct wl_proxy *p, uint32_t x, uint32_t y, uint32_t w,
                      uint32_t h) {
    const fn_t *o = orig_of(p);
    if (o && o[EV_DAMAGE]) ((damage_fn)o[EV_DAMAGE])(d, p, x, y, w, h);
}

static void on_linux_dmabuf(void *d, struct wl_proxy *p, uint32_t fmt, uint32_t w, uint32_t h) {
    pthread_mutex_lock(&lock);
    struct slot *s = find(p);
    const fn_t *o = s ? s->orig : NULL;
    if (s) s->dmabuf_seen = 1;  /* a GPU compositor sent its own: do not add ours */
    pthread_mutex_unlock(&lock);
    if (o && o[EV_LINUX_DMABUF]) ((dmabuf_fn)o[EV_LINUX_DMABUF])(d, p, fmt, w, h);
}

static void on_buffer_done(void *d, struct wl_proxy *p) {
    pthread_mutex_lock(&lock);
    struct slot *s = find(p);
    const fn_t *o = s ? s->orig : NULL;
    uint32_t w = s ? s->width : 0, h = s ? s->height : 0;
    int seen = s ? s->dmabuf_seen : 1;
    pthread_mutex_unlock(&lock);
    if (!o) return;
    if (!seen && w && h && o[EV_LINUX_DMABUF])
        ((dmabuf_fn)o[EV_LINUX_DMABUF])(d, p, DRM_FORMAT_XRGB8888, w, h);
    if (o[EV_BUFFER_DONE]) ((done_fn)o[EV_BUFFER_DONE])(d, p);
}

/* Our listener. A slot lives until its proxy address is reused or the ring comes round to it
 * (portal-wlr has one or two frames in flight, far fewer than SLOTS). */
static fn_t shim_listener[EV_COUNT] = {
    (fn_t)on_buffer, (fn_t)on_flags, (fn_t)on_ready, (fn_t)on_failed, (fn_t)on_damage,
    (fn_t)on_linux_dmabuf, (fn_t)on_buffer_done,
};

int wl_proxy_add_listener(struct wl_proxy *proxy, fn_t *implementation, void *data) {
    static add_listener_t real;
    if (!real)
        real = (add_listener_t)dlsym(RTLD_NEXT, "wl_proxy_add_listener");
    if (!real)
        return -1;
    const char *cls = wl_proxy_get_class(proxy);
    if (!cls || strcmp(cls, "zwlr_screencopy_frame_v1") != 0)
        return real(proxy, implementation, data);
    pthread_mutex_lock(&lock);
    struct slot *s = find(proxy);  /* a reused address: the old frame is gone */
    if (!s) {
        s = &slots[next_slot];
        next_slot = (next_slot + 1) % SLOTS;
    }
    s->proxy = proxy;
    s->orig = (const fn_t *)implementation;
    s->width = s->height = 0;
    s->dmabuf_seen = 0;
    pthread_mutex_unlock(&lock);
    return real(proxy, shim_listener, data);
}
