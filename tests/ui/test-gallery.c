/* test-gallery: the gallery's filters and sorting, the dashboard's data, screenshots of both. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <math.h>

#include "veto-dashboard.h"
#include "veto-gallery-item.h"
#include "veto-gallery.h"
#include "veto-plot.h"
#include "veto-stats.h"

#define N_CLASSES 4
#define N_POOL 40
#define N_TEST 12
#define SIDE 20
#define MODEL_TIMEOUT_MS 120000

static const char *const class_names[N_CLASSES] = { "circle", "square", "stripes", "cross" };

typedef struct
{
  char *dir;
  char *path;
  char *shots;                /* where the screenshots and exported charts go */
  gint64 classes[N_CLASSES];
  gint64 pool[N_POOL];        /* item ids; the gold class of pool[i] is i % N_CLASSES */
  gint64 missing;             /* a file item added late, whose file does not exist */
  VetoEngine *engine;
} Fixture;

static Fixture fx;

/* A small RGB picture of its class: a disc, a square, stripes or a cross, in a colour that
 * says nothing of the class, of a random size and place, on a speckled background; hard enough
 * for the model to stay unsure of some. */
static void
draw_item (guint8 *rgb, guint klass, GRand *rng)
{
  static const guint8 colors[N_CLASSES][3] = {
    { 213, 62, 79 }, { 50, 160, 90 }, { 50, 110, 200 }, { 240, 150, 30 },
  };
  const guint8 *color = colors[g_rand_int_range (rng, 0, N_CLASSES)];
  int dx = g_rand_int_range (rng, -3, 4), dy = g_rand_int_range (rng, -3, 4);
  int size = g_rand_int_range (rng, 3, 8), phase = g_rand_int_range (rng, 0, 3);

  for (int y = 0; y < SIDE; y++)
    for (int x = 0; x < SIDE; x++)
      {
        guint8 *p = rgb + (y * SIDE + x) * 3;
        int u = x - SIDE / 2 - dx, v = y - SIDE / 2 - dy;
        int grey = 236 - g_rand_int_range (rng, 0, 48);
        gboolean in;

        switch (klass)
          {
          case 0:
            in = u * u + v * v <= size * size;
            break;
          case 1:
            in = ABS (u) <= size - 1 && ABS (v) <= size - 1;
            break;
          case 2:
            in = ((y + phase) / 2) % 2 == 0;
            break;
          default:
            in = ABS (u) <= size / 4 || ABS (v) <= size / 4;
            break;
          }
        for (int c = 0; c < 3; c++)
          p[c] = in ? CLAMP (color[c] + g_rand_int_range (rng, -24, 25), 0, 255) : grey;
      }
}

/* One finished import of n generated items into split, item i of class i mod N_CLASSES (gold
 * class classes[i mod N_CLASSES] unless classes is NULL); their ids into out_ids (may be NULL). */
static void
add_items (VetoStore *store, VetoSplit split, guint n, const gint64 *classes, GRand *rng,
           gint64 *out_ids)
{
  g_autoptr (GError) error = NULL;
  guint8 rgb[SIDE * SIDE * 3];
  gint64 import_id;

  g_assert_true (veto_store_add_import (store, "generated", "folder", split, &import_id, &error));
  g_assert_true (veto_store_begin (store, &error));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *sha = NULL;
      VetoItemRecord record = { 0 };
      gint64 id;

      draw_item (rgb, i % N_CLASSES, rng);
      sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, rgb, sizeof rgb);
      record.pixels = rgb;
      record.sha256 = sha;
      record.width = record.height = SIDE;
      record.channels = 3;
      record.split = split;
      record.gold_class = classes ? classes[i % N_CLASSES] : 0;
      record.import_id = import_id;
      record.import_index = i;
      g_assert_true (veto_store_add_item (store, &record, &id, &error));
      if (out_ids)
        out_ids[i] = id;
    }
  g_assert_true (veto_store_commit (store, &error));
  g_assert_true (veto_store_finish_import (store, import_id, n, &error));
  g_assert_no_error (error);
}

static void
add_answer (VetoStore *store, VetoAnswerKind kind, gint64 item, gint64 annotator,
            gint64 answer_class, double seconds, gint64 *out_id)
{
  g_autoptr (GError) error = NULL;
  static gint64 clock_us = 1767225600000000; /* 2026-01-01, one answer a minute after it */
  VetoAnswer a = { 0 };

  clock_us += 60 * G_USEC_PER_SEC;
  a.kind = kind;
  a.item = item;
  a.annotator = annotator;
  a.answer_class = answer_class;
  a.candidates = fx.classes;
  a.n_candidates = kind == VETO_KIND_COMPLEMENTARY ? N_CLASSES : 0;
  a.strategy = "random";
  a.score = NAN;
  a.shown_at_us = isnan (seconds) ? 0 : clock_us - (gint64) (seconds * G_USEC_PER_SEC);
  a.answered_at_us = clock_us;
  g_assert_true (veto_store_add_annotation (store, &a, out_id, &error));
  g_assert_no_error (error);
}

/* 40 pool items (10 per class) and 12 test items, all with gold labels, and these answers:
 *   alice, ordinary:       pool 0..7 with their gold class (2, 4, 2, 4 … seconds)
 *   bob, complementary (all four classes shown), 5 s each:
 *     gold circle:  8 → not square, 12 → not square, 16 → not stripes, 20 → not cross,
 *                   0 → not stripes (and 0 → not cross, undone, 100 s)
 *     gold square:  9 → not circle, 13, 17, 21 → not cross
 *     gold stripes: 10, 14 → not circle
 *   sim, preference:       pool 22 (left, preferred) against pool 23, never timed */
static void
make_project (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (7);
  gint64 alice, bob, sim, undone, pref;

  fx.path = g_build_filename (fx.dir, "gallery.veto", NULL);
  store = veto_store_create (fx.path, &error);
  g_assert_no_error (error);
  for (guint c = 0; c < N_CLASSES; c++)
    g_assert_true (veto_store_ensure_class (store, class_names[c], &fx.classes[c], NULL, &error));
  add_items (store, VETO_SPLIT_POOL, N_POOL, fx.classes, rng, fx.pool);
  add_items (store, VETO_SPLIT_TEST, N_TEST, fx.classes, rng, NULL);
  g_assert_true (veto_store_ensure_annotator (store, "alice", VETO_ANNOTATOR_HUMAN, &alice,
                                              &error));
  g_assert_true (veto_store_ensure_annotator (store, "bob", VETO_ANNOTATOR_HUMAN, &bob, &error));
  g_assert_true (veto_store_ensure_annotator (store, "sim", VETO_ANNOTATOR_SIMULATED, &sim,
                                              &error));
  for (guint i = 0; i < 8; i++)
    add_answer (store, VETO_KIND_ORDINARY, fx.pool[i], alice, fx.classes[i % N_CLASSES],
                i % 2 ? 4 : 2, NULL);
  {
    static const struct
    {
      guint item, not_class;
    } cl[] = {
      { 8, 1 }, { 12, 1 }, { 16, 2 }, { 20, 3 }, { 0, 2 },
      { 9, 0 }, { 13, 3 }, { 17, 3 }, { 21, 3 },
      { 10, 0 }, { 14, 0 },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cl); i++)
      add_answer (store, VETO_KIND_COMPLEMENTARY, fx.pool[cl[i].item], bob,
                  fx.classes[cl[i].not_class], 5, NULL);
  }
  add_answer (store, VETO_KIND_COMPLEMENTARY, fx.pool[0], bob, fx.classes[3], 100, &undone);
  g_assert_true (veto_store_undo_annotation (store, undone, &error));
  {
    VetoAnswer a = { 0 };

    a.kind = VETO_KIND_PREFERENCE;
    a.item = fx.pool[22];
    a.right_item = fx.pool[23];
    a.annotator = sim;
    a.criterion = "brighter";
    a.preferred = VETO_PREFER_LEFT;
    a.strategy = "random";
    a.score = NAN;
    g_assert_true (veto_store_add_annotation (store, &a, &pref, &error));
  }
  g_assert_no_error (error);
}

/* Adds a file item (in a pool import of its own) through the engine's writing connection. */
static gint64
add_file_item (VetoStore *store, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *sha = g_compute_checksum_for_string (G_CHECKSUM_SHA256, path, -1);
  VetoItemRecord record = { 0 };
  gint64 import_id, id;

  g_assert_true (veto_store_add_import (store, path, "folder", VETO_SPLIT_POOL, &import_id,
                                        &error));
  record.path = path;
  record.sha256 = sha;
  record.width = record.height = SIDE;
  record.channels = 3;
  record.split = VETO_SPLIT_POOL;
  record.import_id = import_id;
  g_assert_true (veto_store_begin (store, &error));
  g_assert_true (veto_store_add_item (store, &record, &id, &error));
  g_assert_true (veto_store_commit (store, &error));
  g_assert_true (veto_store_finish_import (store, import_id, 1, &error));
  g_assert_no_error (error);
  return id;
}

static VetoEngine *
start_engine (gboolean agcd)
{
  g_autoptr (GError) error = NULL;
  VetoEngineOptions options;
  VetoEngine *engine;

  veto_engine_options_init (&options);
  options.annotator = "tester";
  options.agcd = agcd;
  options.retrain_every = 1000;
  engine = veto_engine_new (fx.path, &options, &error);
  g_assert_no_error (error);
  g_assert_true (veto_engine_wait_for_model (engine, 1, MODEL_TIMEOUT_MS));
  return engine;
}

static void
iterate (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (5000);
    }
}

static GtkWidget *
show_in_window (GtkWidget *child, const char *title)
{
  GtkWidget *window = adw_window_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();

  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), adw_window_title_new (title, NULL));
  gtk_box_append (GTK_BOX (box), header);
  gtk_widget_set_vexpand (child, TRUE);
  gtk_box_append (GTK_BOX (box), child);
  adw_window_set_content (ADW_WINDOW (window), box);
  /* The content, not the window with its frame, is what the screenshots show at 1280 × 800. */
  gtk_widget_set_size_request (box, 1280, 800);
  gtk_window_present (GTK_WINDOW (window));
  iterate (300);
  return window;
}

/* Waits until every thumbnail asked for is decoded, then for the frames that show them. */
static void
wait_for_thumbnails (VetoGallery *gallery)
{
  VetoThumbnailer *thumbnailer = veto_gallery_get_thumbnailer (gallery);
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  iterate (100);
  while (veto_thumbnailer_get_n_pending (thumbnailer) > 0 && g_get_monotonic_time () < end)
    iterate (20);
  g_assert_cmpuint (veto_thumbnailer_get_n_pending (thumbnailer), ==, 0);
  g_assert_cmpuint (veto_thumbnailer_get_n_cached (thumbnailer), >, 0);
  iterate (200);
}

/* Renders a window's content (an AdwWindow's, else the whole window) as it is on screen. */
static void
save_screenshot (GtkWidget *window, const char *name)
{
  GtkWidget *content = ADW_IS_WINDOW (window) ? adw_window_get_content (ADW_WINDOW (window))
                                              : window;
  int width = gtk_widget_get_width (content), height = gtk_widget_get_height (content);
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (content);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *path = g_build_filename (fx.shots, name, NULL);

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot %s (%d×%d)", path, width, height);
}

/* The gallery's items once its reading of the project has come back (veto_gallery_get_items ()
 * is final then). */
static GListModel *
settled_items (GtkWidget *gallery)
{
  while (veto_gallery_get_refreshing (VETO_GALLERY (gallery)))
    g_main_context_iteration (NULL, TRUE);
  return veto_gallery_get_items (VETO_GALLERY (gallery));
}

static guint
n_shown (GtkWidget *gallery)
{
  return g_list_model_get_n_items (settled_items (gallery));
}

/* How many standing answers the gallery shows for an item (it must be shown). */
static guint
answers_of (GtkWidget *gallery, gint64 id)
{
  GListModel *items = settled_items (gallery);

  for (guint i = 0; i < g_list_model_get_n_items (items); i++)
    {
      g_autoptr (VetoGalleryItem) item = g_list_model_get_item (items, i);
      guint n;

      if (veto_gallery_item_get_id (item) != id)
        continue;
      veto_gallery_item_get_answers (item, &n);
      return n;
    }
  g_assert_not_reached ();
}

static void
filter (GtkWidget *gallery, const char *kind, int klass)
{
  g_assert_true (gtk_widget_activate_action (gallery, "gallery.kind-filter", "s", kind));
  g_assert_true (gtk_widget_activate_action (gallery, "gallery.class-filter", "i", klass));
}

static void
test_gallery_filters (void)
{
  GtkWidget *gallery = veto_gallery_new (fx.engine);
  GtkWidget *window = show_in_window (gallery, "Gallery");
  g_autoptr (VetoEngineScores) scores = veto_engine_get_scores (fx.engine);
  guint predicted[N_CLASSES] = { 0 };

  g_assert_cmpuint (n_shown (gallery), ==, N_POOL + N_TEST);
  filter (gallery, "ordinary", -1);
  g_assert_cmpuint (n_shown (gallery), ==, 8);
  filter (gallery, "ordinary", 0);
  g_assert_cmpuint (n_shown (gallery), ==, 2);
  filter (gallery, "complementary", -1);
  g_assert_cmpuint (n_shown (gallery), ==, 11);
  /* "not cross": four standing answers; item 0's was undone. */
  filter (gallery, "complementary", 3);
  g_assert_cmpuint (n_shown (gallery), ==, 4);
  filter (gallery, "complementary", 2);
  g_assert_cmpuint (n_shown (gallery), ==, 2);
  /* Any kind of answer naming circle: two "circle" and three "not circle". */
  filter (gallery, "all", 0);
  g_assert_cmpuint (n_shown (gallery), ==, 5);
  filter (gallery, "preference", -1);
  g_assert_cmpuint (n_shown (gallery), ==, 2);
  filter (gallery, "answered", -1);
  g_assert_cmpuint (n_shown (gallery), ==, 20);
  filter (gallery, "unanswered", -1);
  g_assert_cmpuint (n_shown (gallery), ==, N_POOL + N_TEST - 20);
  filter (gallery, "unanswered", 1);
  g_assert_cmpuint (n_shown (gallery), ==, 0);
  filter (gallery, "all", -1);

  /* By predicted class, as the engine's newest scores say. */
  g_assert_nonnull (scores);
  g_assert_cmpuint (scores->n, ==, N_POOL);
  for (guint i = 0; i < scores->n; i++)
    {
      const float *p = scores->probs + (gsize) i * scores->n_classes;
      guint best = 0;

      for (guint k = 1; k < scores->n_classes; k++)
        if (p[k] > p[best])
          best = k;
      predicted[best]++;
    }
  for (int k = 0; k < N_CLASSES; k++)
    {
      g_assert_true (gtk_widget_activate_action (gallery, "gallery.predicted-filter", "i", k));
      g_assert_cmpuint (n_shown (gallery), ==, predicted[k]);
    }
  g_assert_true (gtk_widget_activate_action (gallery, "gallery.predicted-filter", "i", -1));
  g_assert_cmpuint (n_shown (gallery), ==, N_POOL + N_TEST);

  /* A refresh after an answer gives that item its answers and re-filters a filter that reads
   * them; after its undo, the item is as it was. */
  {
    g_autoptr (GError) error = NULL;
    const VetoQuestion *q = veto_engine_current (fx.engine);
    guint before, shown;
    gint64 id, undone;

    /* an item without answers yet, so that the answer moves it into the filter */
    for (guint skips = 0; q != NULL && answers_of (gallery, q->item) > 0 && skips < 50; skips++)
      {
        veto_engine_skip (fx.engine);
        q = veto_engine_current (fx.engine);
      }
    g_assert_nonnull (q);
    before = answers_of (gallery, q->item);
    g_assert_cmpuint (before, ==, 0);
    filter (gallery, "answered", -1);
    shown = n_shown (gallery);
    g_assert_true (veto_engine_answer (fx.engine, q->candidates[0], VETO_PREFER_LEFT, &id,
                                       &error));
    g_assert_no_error (error);
    veto_gallery_refresh (VETO_GALLERY (gallery));
    g_assert_cmpuint (n_shown (gallery), ==, shown + 1);
    filter (gallery, "all", -1);
    g_assert_cmpuint (answers_of (gallery, q->item), ==, before + 1);
    filter (gallery, "answered", -1);
    g_assert_true (veto_engine_undo (fx.engine, &undone, &error));
    g_assert_no_error (error);
    g_assert_cmpint (undone, ==, id);
    veto_gallery_refresh (VETO_GALLERY (gallery));
    g_assert_cmpuint (n_shown (gallery), ==, shown);
    filter (gallery, "all", -1);
    g_assert_cmpuint (answers_of (gallery, q->item), ==, before);
  }

  gtk_window_destroy (GTK_WINDOW (window));
}

/* Waits until nothing holds the object any more (a reading holds its widget until it is back). */
static void
wait_for_finalize (GWeakRef *weak)
{
  gint64 end = g_get_monotonic_time () + MODEL_TIMEOUT_MS * 1000;
  GObject *object;

  while ((object = g_weak_ref_get (weak)) != NULL && g_get_monotonic_time () < end)
    {
      g_object_unref (object);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_assert_null (object);
  g_weak_ref_clear (weak);
}

/* A gallery let go of, or destroyed with its window, while its first reading runs: the reading
 * comes back to a widget still alive (it holds it) or stopped, and frees what it read after the
 * widget is gone (ASan and MALLOC_PERTURB_ see a use after free). */
static void
test_gallery_gone_while_reading (void)
{
  GtkWidget *gallery = g_object_ref_sink (veto_gallery_new (fx.engine));
  GtkWidget *window;
  GWeakRef weak;

  g_assert_true (veto_gallery_get_refreshing (VETO_GALLERY (gallery)));
  g_weak_ref_init (&weak, gallery);
  g_object_unref (gallery);
  wait_for_finalize (&weak);

  gallery = veto_gallery_new (fx.engine);
  window = show_in_window (gallery, "Gallery");
  veto_gallery_refresh (VETO_GALLERY (gallery));
  g_assert_true (veto_gallery_get_refreshing (VETO_GALLERY (gallery)));
  g_weak_ref_init (&weak, gallery);
  gtk_window_destroy (GTK_WINDOW (window));
  wait_for_finalize (&weak);
}

static void
test_gallery_sort (void)
{
  GtkWidget *gallery = veto_gallery_new (fx.engine);
  GtkWidget *window = show_in_window (gallery, "Gallery");
  g_autoptr (VetoEngineScores) scores = veto_engine_get_scores (fx.engine);
  g_autoptr (VetoGalleryItem) first = NULL;
  g_autoptr (VetoGalleryItem) last = NULL;
  gint64 most_uncertain = 0;
  double smallest = INFINITY;

  for (guint i = 0; i < scores->n; i++)
    {
      const float *p = scores->probs + (gsize) i * scores->n_classes;
      double top = 0, second = 0;

      for (guint k = 0; k < scores->n_classes; k++)
        if (p[k] > top)
          {
            second = top;
            top = p[k];
          }
        else if (p[k] > second)
          second = p[k];
      if (top - second < smallest
          || (top - second == smallest && scores->items[i] < most_uncertain))
        {
          smallest = top - second;
          most_uncertain = scores->items[i];
        }
    }
  g_assert_true (gtk_widget_activate_action (gallery, "gallery.sort", "s", "uncertainty"));
  first = g_list_model_get_item (settled_items (gallery), 0);
  g_assert_cmpint (veto_gallery_item_get_id (first), ==, most_uncertain);
  g_assert_cmpfloat_with_epsilon (veto_gallery_item_get_margin (first), smallest, 1e-6);
  /* Margins never decrease down the list; unscored (test) items come last. */
  for (guint i = 1; i < scores->n; i++)
    {
      g_autoptr (VetoGalleryItem) a = g_list_model_get_item (settled_items (gallery), i - 1);
      g_autoptr (VetoGalleryItem) b = g_list_model_get_item (settled_items (gallery), i);

      g_assert_cmpfloat (veto_gallery_item_get_margin (a), <=, veto_gallery_item_get_margin (b));
    }
  last = g_list_model_get_item (settled_items (gallery), N_POOL + N_TEST - 1);
  g_assert_true (isnan (veto_gallery_item_get_margin (last)));

  g_assert_true (gtk_widget_activate_action (gallery, "gallery.sort", "s", "id"));
  g_clear_object (&first);
  first = g_list_model_get_item (settled_items (gallery), 0);
  g_assert_cmpint (veto_gallery_item_get_id (first), ==, fx.pool[0]);

  g_assert_true (gtk_widget_activate_action (gallery, "gallery.sort", "s", "uncertainty"));
  wait_for_thumbnails (VETO_GALLERY (gallery));
  save_screenshot (window, "gallery-1280x800.png");

  /* The answers of item 0: an ordinary one, a complementary one and an undone one. */
  {
    guint before = g_list_model_get_n_items (gtk_window_get_toplevels ());
    GtkWidget *dialog = NULL;

    g_assert_true (gtk_widget_activate_action (gallery, "gallery.show-item", "x", fx.pool[0]));
    iterate (300);
    g_assert_cmpuint (g_list_model_get_n_items (gtk_window_get_toplevels ()), ==, before + 1);
    for (guint i = 0; i < g_list_model_get_n_items (gtk_window_get_toplevels ()); i++)
      {
        g_autoptr (GtkWindow) w = g_list_model_get_item (gtk_window_get_toplevels (), i);

        if (gtk_window_get_transient_for (w) == GTK_WINDOW (window))
          dialog = GTK_WIDGET (w);
      }
    g_assert_nonnull (dialog);
    save_screenshot (dialog, "gallery-item-answers.png");
    gtk_window_destroy (GTK_WINDOW (dialog));
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Answers the engine's complementary questions truthfully (the first candidate that is not the
 * item's gold class), n_rounds times per_round answers, each followed by a new model. */
static void
answer_rounds (guint n_rounds, guint per_round)
{
  for (guint r = 0; r < n_rounds; r++)
    {
      VetoEngineStatus status;

      for (guint a = 0; a < per_round; a++)
        {
          g_autoptr (GError) error = NULL;
          const VetoQuestion *q = veto_engine_current (fx.engine);
          gint64 gold = 0, answer = 0;

          g_assert_nonnull (q);
          g_assert_cmpint (q->kind, ==, VETO_KIND_COMPLEMENTARY);
          for (guint i = 0; i < N_POOL; i++)
            if (fx.pool[i] == q->item)
              gold = fx.classes[i % N_CLASSES];
          for (guint c = 0; c < q->n_candidates && answer == 0; c++)
            if (q->candidates[c] != gold)
              answer = q->candidates[c];
          g_assert_true (veto_engine_answer (fx.engine, answer, VETO_PREFER_LEFT, NULL, &error));
          g_assert_no_error (error);
        }
      veto_engine_get_status (fx.engine, &status);
      g_assert_true (veto_engine_wait_for_model (fx.engine, status.model_version + 1,
                                                 MODEL_TIMEOUT_MS));
    }
}

/* Waits until the dashboard has read the project and drawn what it read. */
static void
wait_for_dashboard (VetoDashboard *dashboard)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (veto_dashboard_get_refreshing (dashboard) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (veto_dashboard_get_refreshing (dashboard));
}

static void
test_dashboard (void)
{
  GtkWidget *dashboard = veto_dashboard_new (fx.engine);
  GtkWidget *window;
  static const char *const exports[] = { "curve", "answers", "confusion", "transition",
                                         "seconds" };
  /* Rows: gold circle, square, stripes, cross; columns: the complementary label. */
  const double expected[N_CLASSES * N_CLASSES] = {
    0.00, 0.40, 0.40, 0.20,
    0.25, 0.00, 0.00, 0.75,
    1.00, 0.00, 0.00, 0.00,
    NAN, NAN, NAN, NAN,
  };
  const double *q;
  guint k = 0;

  /* Made but not shown, it has read nothing (the window makes one per project it opens)... */
  g_assert_null (veto_dashboard_get_transition (VETO_DASHBOARD (dashboard), &k));
  /* ...and shown, it reads the project without being asked. */
  window = show_in_window (dashboard, "Dashboard");
  wait_for_dashboard (VETO_DASHBOARD (dashboard));
  q = veto_dashboard_get_transition (VETO_DASHBOARD (dashboard), &k);
  g_assert_nonnull (q);
  g_assert_cmpuint (k, ==, N_CLASSES);
  for (guint i = 0; i < N_CLASSES * N_CLASSES; i++)
    if (isnan (expected[i]))
      g_assert_true (isnan (q[i]));
    else
      g_assert_cmpfloat_with_epsilon (q[i], expected[i], 1e-12);

  /* More rounds for the learning curve, then every chart is exported. */
  answer_rounds (4, 6);
  {
    /* A round as `veto train` records it: test accuracy and the test split's confusion. */
    static const char metrics[] = "{\"test_accuracy\": 0.75, \"confusion\": "
                                  "[[3, 0, 0, 0], [0, 2, 1, 0], [1, 0, 2, 0], [0, 0, 1, 2]]}";
    g_autoptr (GError) error = NULL;

    g_assert_true (veto_store_add_round (veto_engine_get_store (fx.engine), "pixels", "softmax",
                                         40, metrics, 0.5, NULL, NULL, &error));
    g_assert_no_error (error);
  }
  /* The project is read in a thread of its own: refresh returns at once, and what it read is
   * drawn from the main loop. One asked for while a reading runs (the rounds' signals may have
   * started one) reads again after it, so the round just added is read either way. */
  veto_dashboard_refresh (VETO_DASHBOARD (dashboard));
  g_assert_true (veto_dashboard_get_refreshing (VETO_DASHBOARD (dashboard)));
  veto_dashboard_refresh (VETO_DASHBOARD (dashboard));
  wait_for_dashboard (VETO_DASHBOARD (dashboard));
  for (guint i = 0; i < G_N_ELEMENTS (exports); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("%s.%s", exports[i], i % 2 ? "svg" : "png");
      g_autofree char *path = g_build_filename (fx.shots, name, NULL);

      g_assert_true (veto_dashboard_export (VETO_DASHBOARD (dashboard), exports[i], path, &error));
      g_assert_no_error (error);
      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    }
  iterate (200);
  save_screenshot (window, "dashboard-1280x800.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* The model shown is exactly the one expected. */
static void
assert_model (const double *shown, guint k, const double *expected)
{
  g_assert_nonnull (shown);
  g_assert_nonnull (expected);
  g_assert_cmpuint (k, ==, N_CLASSES);
  for (guint i = 0; i < N_CLASSES * N_CLASSES; i++)
    g_assert_cmpfloat_with_epsilon (shown[i], expected[i], 1e-12);
}

/* The selector of annotator models' entry i. */
static const char *
choice (VetoDashboard *dashboard, guint i)
{
  g_autoptr (GtkStringObject) entry = g_list_model_get_item (
      veto_dashboard_get_annotator_model_choices (dashboard), i);

  /* The list keeps the string alive past this reference. */
  return gtk_string_object_get_string (entry);
}

/* Before any answer there is no round: every chart says why it is empty, nothing exports. */
static void
test_dashboard_empty (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (fx.dir, "empty.veto", NULL);
  g_autofree char *png = g_build_filename (fx.dir, "nothing.png", NULL);
  g_autoptr (GRand) rng = g_rand_new_with_seed (3);
  VetoEngineOptions options;
  g_autoptr (VetoEngine) engine = NULL;
  GtkWidget *dashboard, *window;
  guint k = 1;

  {
    g_autoptr (VetoStore) store = veto_store_create (path, &error);
    gint64 klass;

    g_assert_no_error (error);
    for (guint c = 0; c < N_CLASSES; c++)
      g_assert_true (veto_store_ensure_class (store, class_names[c], &klass, NULL, &error));
    add_items (store, VETO_SPLIT_POOL, 8, NULL, rng, NULL);
  }
  veto_engine_options_init (&options);
  options.annotator = "tester";
  engine = veto_engine_new (path, &options, &error);
  g_assert_no_error (error);

  dashboard = veto_dashboard_new (engine);
  window = show_in_window (dashboard, "Dashboard");
  veto_dashboard_refresh (VETO_DASHBOARD (dashboard));
  wait_for_dashboard (VETO_DASHBOARD (dashboard));
  g_assert_null (veto_dashboard_get_transition (VETO_DASHBOARD (dashboard), &k));
  g_assert_cmpuint (k, ==, 0);
  g_assert_false (veto_dashboard_export (VETO_DASHBOARD (dashboard), "curve", png, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_assert_false (g_file_test (png, G_FILE_TEST_EXISTS));
  save_screenshot (window, "dashboard-empty-1280x800.png");
  g_clear_error (&error);

  /* The project moved while open: the dashboard still reads it, through the connection its
   * first reading opened, and draws the round recorded since. */
  {
    g_autofree char *moved = g_build_filename (fx.dir, "moved.veto", NULL);

    g_assert_cmpint (g_rename (path, moved), ==, 0);
    g_assert_true (veto_store_add_round (veto_engine_get_store (engine), "pixels", "softmax", 8,
                                         "{\"test_accuracy\": 0.5}", 0.1, NULL, NULL, &error));
    g_assert_no_error (error);
    veto_dashboard_refresh (VETO_DASHBOARD (dashboard));
    wait_for_dashboard (VETO_DASHBOARD (dashboard));
    g_assert_true (veto_dashboard_export (VETO_DASHBOARD (dashboard), "curve", png, &error));
    g_assert_no_error (error);
    g_assert_true (g_file_test (png, G_FILE_TEST_IS_REGULAR));
    g_assert_cmpint (g_rename (moved, path), ==, 0);
  }

  /* A hand-edited round whose confusion matrix holds a string: the dashboard says which round
   * and which cell, and draws no matrix (it read the string as a count of 0 before). */
  g_assert_true (veto_store_add_round (veto_engine_get_store (engine), "pixels", "softmax", 8,
                                       "{\"test_accuracy\": 0.5, \"confusion\": "
                                       "[[1, 0, 0, 0], [0, 1, \"2\", 0], [0, 0, 1, 0], "
                                       "[0, 0, 0, 1]]}",
                                       0.1, NULL, NULL, &error));
  g_assert_no_error (error);
  g_test_expect_message ("Veto", G_LOG_LEVEL_WARNING,
                         "Dashboard: round *'s confusion matrix: row 2, column 3 is not a count");
  veto_dashboard_refresh (VETO_DASHBOARD (dashboard));
  wait_for_dashboard (VETO_DASHBOARD (dashboard));
  g_test_assert_expected_messages ();
  g_assert_false (veto_dashboard_export (VETO_DASHBOARD (dashboard), "confusion", png, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_clear_error (&error);

  /* No answer on a gold anchor, and a round whose model was learned without gold (as the
   * engine's is from 200 complementary answers): the learner's entry is the only one, first,
   * and shows the model as the round saved it. */
  {
    double learned[N_CLASSES * N_CLASSES];
    VetoTrainResult result = { .annotator_model = learned };
    g_autoptr (JsonBuilder) builder = json_builder_new ();
    g_autoptr (JsonNode) root = NULL;
    g_autofree char *metrics = NULL;
    g_autofree char *entry = NULL;
    const double *shown;
    gint64 version;

    for (guint i = 0; i < N_CLASSES * N_CLASSES; i++)
      learned[i] = i % (N_CLASSES + 1) == 0 ? VETO_LOSS_DEFAULT_EPSILON : 0.5 + 0.1 * i;
    json_builder_begin_object (builder);
    veto_train_result_add_annotator_models (&result, N_CLASSES, builder);
    json_builder_end_object (builder);
    root = json_builder_get_root (builder);
    metrics = json_to_string (root, FALSE);
    g_assert_true (veto_store_add_round (veto_engine_get_store (engine), "pixels", "softmax", 8,
                                         metrics, 0.1, NULL, &version, &error));
    g_assert_no_error (error);
    veto_dashboard_refresh (VETO_DASHBOARD (dashboard));
    wait_for_dashboard (VETO_DASHBOARD (dashboard));
    entry = g_strdup_printf ("The learner (round %lld)", (long long) version);
    g_assert_cmpuint (g_list_model_get_n_items (veto_dashboard_get_annotator_model_choices (
                          VETO_DASHBOARD (dashboard))), ==, 1);
    g_assert_cmpstr (choice (VETO_DASHBOARD (dashboard), 0), ==, entry);
    shown = veto_dashboard_get_annotator_model (VETO_DASHBOARD (dashboard), &k);
    assert_model (shown, k, learned);
    g_assert_true (veto_dashboard_export (VETO_DASHBOARD (dashboard), "annotator-model", png,
                                          &error));
    g_assert_no_error (error);
  }
  gtk_window_destroy (GTK_WINDOW (window));
  veto_engine_shutdown (engine);
}

/* Complementary answers on gold anchors (validation items, asked as anchors, all four classes
 * shown) by people with known habits: "ann" never says "not circle" unless the item is a circle,
 * "other" names any wrong class alike, "few" answers too seldom for a model of their own. */
#define N_ANCHORS 40

typedef struct
{
  gint64 classes[N_CLASSES];
  gint64 anchors[N_ANCHORS];  /* the gold class of anchors[i] is i % N_CLASSES */
  gint64 pool[8];
  gint64 annotators[3];       /* ann, other, few */
  GArray *answers;            /* VetoStatsAnswer, in the order written */
  guint shown[N_CLASSES];
  GRand *rng;
} ModelsProject;

static void
add_anchor_answers (ModelsProject *p, VetoStore *store, guint who, guint n)
{
  for (guint t = 0; t < n; t++)
    {
      g_autoptr (GError) error = NULL;
      guint item = g_rand_int_range (p->rng, 0, N_ANCHORS), y = item % N_CLASSES, c;
      VetoAnswer a = { 0 };
      VetoStatsAnswer answer = { 0 };

      do
        c = g_rand_int_range (p->rng, 0, N_CLASSES);
      while (c == y || (who == 0 && c == 0));
      a.kind = VETO_KIND_COMPLEMENTARY;
      a.item = p->anchors[item];
      a.annotator = p->annotators[who];
      a.answer_class = p->classes[c];
      a.candidates = p->classes;
      a.n_candidates = N_CLASSES;
      a.strategy = "anchor";
      a.score = NAN;
      g_assert_true (veto_store_add_annotation (store, &a, NULL, &error));
      g_assert_no_error (error);
      answer.item = item;
      answer.annotator = who;
      answer.kind = VETO_STATS_COMPLEMENTARY;
      answer.label = c;
      answer.seconds = NAN;
      answer.shown = p->shown;
      answer.n_shown = N_CLASSES;
      g_array_append_val (p->answers, answer);
    }
}

static void
make_models_project (ModelsProject *p, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = veto_store_create (path, &error);
  static const char *const names[] = { "ann", "other", "few" };

  g_assert_no_error (error);
  for (guint c = 0; c < N_CLASSES; c++)
    {
      g_assert_true (veto_store_ensure_class (store, class_names[c], &p->classes[c], NULL,
                                              &error));
      p->shown[c] = c;
    }
  add_items (store, VETO_SPLIT_POOL, 8, p->classes, p->rng, p->pool);
  add_items (store, VETO_SPLIT_VALIDATION, N_ANCHORS, p->classes, p->rng, p->anchors);
  for (guint j = 0; j < G_N_ELEMENTS (names); j++)
    g_assert_true (veto_store_ensure_annotator (store, names[j], VETO_ANNOTATOR_HUMAN,
                                                &p->annotators[j], &error));
  g_assert_no_error (error);
  /* One answer on each pool item, for the learner to train on: not an anchor, so no model's. */
  for (guint i = 0; i < 8; i++)
    {
      VetoAnswer a = { .kind = VETO_KIND_COMPLEMENTARY, .item = p->pool[i],
                       .annotator = p->annotators[0],
                       .answer_class = p->classes[(i + 1) % N_CLASSES],
                       .candidates = p->classes, .n_candidates = N_CLASSES,
                       .strategy = "random", .score = NAN };

      g_assert_true (veto_store_add_annotation (store, &a, NULL, &error));
    }
  /* 30 answers: below the 10 per class the learner waits for. */
  add_anchor_answers (p, store, 0, 20);
  add_anchor_answers (p, store, 1, 10);
}

/* Every weight within 5% of the other model's, and not all equal to it. */
static void
assert_model_near (const double *got, const double *fitted)
{
  gboolean moved = FALSE;

  g_assert_nonnull (got);
  for (guint i = 0; i < N_CLASSES * N_CLASSES; i++)
    {
      g_assert_cmpfloat (fabs (got[i] - fitted[i]), <=, 0.05 * fitted[i]);
      moved |= got[i] != fitted[i];
    }
  g_assert_true (moved);
}

/* The models' card is the last: scrolled into view for the screenshots. */
static void
scroll_to_end (VetoDashboard *dashboard)
{
  GtkWidget *overlay = gtk_widget_get_first_child (GTK_WIDGET (dashboard));
  GtkAdjustment *v = gtk_scrolled_window_get_vadjustment (
      GTK_SCROLLED_WINDOW (adw_toast_overlay_get_child (ADW_TOAST_OVERLAY (overlay))));

  iterate (200);
  gtk_adjustment_set_value (v, gtk_adjustment_get_upper (v) - gtk_adjustment_get_page_size (v));
  iterate (200);
}

static void
test_dashboard_annotator_models (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (fx.dir, "models.veto", NULL);
  g_autofree char *png = g_build_filename (fx.shots, "annotator-model.png", NULL);
  g_autofree char *pdf = g_build_filename (fx.shots, "annotator-model.pdf", NULL);
  g_autofree char *pdf_text = NULL;
  g_autoptr (GArray) answers = g_array_new (FALSE, FALSE, sizeof (VetoStatsAnswer));
  g_autoptr (GRand) rng = g_rand_new_with_seed (11);
  ModelsProject p = { .answers = answers, .rng = rng };
  gint gold[N_ANCHORS];
  VetoEngineOptions options;
  g_autoptr (VetoEngine) engine = NULL;
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  VetoStatsReport report = { 0 };
  VetoDashboard *dashboard;
  GtkWidget *window;
  const double *shown;
  guint k = 1;

  g_unlink (png); /* from an earlier run */
  make_models_project (&p, path);
  veto_engine_options_init (&options);
  options.annotator = "tester";
  engine = veto_engine_new (path, &options, &error);
  g_assert_no_error (error);
  dashboard = VETO_DASHBOARD (veto_dashboard_new (engine));
  window = show_in_window (GTK_WIDGET (dashboard), "Dashboard");

  /* Below the threshold: nothing shown, nothing to export. */
  veto_dashboard_refresh (dashboard);
  wait_for_dashboard (dashboard);
  g_assert_null (veto_dashboard_get_annotator_model (dashboard, &k));
  g_assert_cmpuint (k, ==, 0);
  g_assert_false (veto_dashboard_export (dashboard, "annotator-model", png, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (g_file_test (png, G_FILE_TEST_EXISTS));
  scroll_to_end (dashboard);
  save_screenshot (window, "dashboard-annotator-models-empty-1280x800.png");

  /* ann 60 answers, other 60, few 10: 130 in all. */
  add_anchor_answers (&p, veto_engine_get_store (engine), 0, 40);
  add_anchor_answers (&p, veto_engine_get_store (engine), 1, 50);
  add_anchor_answers (&p, veto_engine_get_store (engine), 2, 10);
  for (guint i = 0; i < N_ANCHORS; i++)
    gold[i] = i % N_CLASSES;
  {
    VetoStatsInput input = {
      .n_classes = N_CLASSES,
      .n_items = N_ANCHORS,
      .gold = gold,
      .n_annotators = 3,
      .answers = (const VetoStatsAnswer *) answers->data,
      .n_answers = answers->len,
    };

    g_assert_true (veto_stats_compute (&input, &report, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (report.overall.choice_answers, ==, 130);
  g_assert_true (report.annotators[0].choice_own);
  g_assert_true (report.annotators[1].choice_own);
  g_assert_false (report.annotators[2].choice_own);

  veto_dashboard_refresh (dashboard);
  wait_for_dashboard (dashboard);
  g_assert_cmpuint (g_list_model_get_n_items (veto_dashboard_get_annotator_model_choices (
                        dashboard)), ==, 4);
  g_assert_cmpstr (choice (dashboard, 0), ==, "Everyone (pooled)");
  g_assert_cmpstr (choice (dashboard, 1), ==, "ann (own model)");
  g_assert_cmpstr (choice (dashboard, 2), ==, "other (own model)");
  g_assert_cmpstr (choice (dashboard, 3), ==, "few (pooled model)");
  shown = veto_dashboard_get_annotator_model (dashboard, &k);
  assert_model (shown, k, report.overall.choice_model);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dashboard), "dashboard.annotator-model",
                                             "s", "ann"));
  shown = veto_dashboard_get_annotator_model (dashboard, &k);
  assert_model (shown, k, report.annotators[0].choice_model);
  /* ann's habit: "not circle" is rare unless the item is a circle; other's is not. */
  for (guint y = 1; y < N_CLASSES; y++)
    {
      g_assert_cmpfloat (shown[y * N_CLASSES + 0], <, 0.3);
      g_assert_cmpfloat (report.annotators[1].choice_model[y * N_CLASSES + 0], >, 0.6);
    }
  /* The selection survives a refresh. */
  veto_dashboard_refresh (dashboard);
  wait_for_dashboard (dashboard);
  assert_model (veto_dashboard_get_annotator_model (dashboard, &k), k,
                report.annotators[0].choice_model);
  g_assert_true (veto_dashboard_export (dashboard, "annotator-model", png, &error));
  g_assert_no_error (error);
  pixbuf = gdk_pixbuf_new_from_file (png, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, 900);
  g_assert_cmpint (gdk_pixbuf_get_height (pixbuf), ==, 800);
  g_assert_true (veto_dashboard_export (dashboard, "annotator-model", pdf, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (pdf, &pdf_text, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pdf_text, "%PDF-"));
  scroll_to_end (dashboard);
  save_screenshot (window, "dashboard-annotator-models-1280x800.png");

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dashboard), "dashboard.annotator-model",
                                             "s", "few"));
  assert_model (veto_dashboard_get_annotator_model (dashboard, &k), k,
                report.overall.choice_model);
  assert_model (report.annotators[2].choice_model, N_CLASSES, report.overall.choice_model);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dashboard), "dashboard.annotator-model",
                                             "s", ""));
  assert_model (veto_dashboard_get_annotator_model (dashboard, &k), k,
                report.overall.choice_model);

  /* The learner fits the very same models for its loss and questions, then refines them by
   * the 8 answers on pool items (EM through cross-fitted classifiers): a little, from 8. */
  {
    g_autoptr (VetoDataset) ds = veto_dataset_load (veto_engine_get_store (engine), "pixels",
                                                    FALSE, NULL, NULL, NULL, &error);
    g_autoptr (VetoModel) model = NULL;
    VetoTrainResult result = { 0 };
    VetoTrainSpec spec;

    g_assert_no_error (error);
    veto_train_spec_init (&spec);
    spec.supervision = VETO_SUPERVISION_ANSWERS;
    spec.cl_loss = VETO_LOSS_COMPLEMENTARY_CANDIDATE;
    spec.train.max_epochs = 2;
    model = veto_sim_train (veto_engine_get_store (engine), ds, &spec, &result, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (result.anchor_answers, ==, 130);
    g_assert_cmpuint (result.annotators_fitted, ==, 2);
    g_assert_cmpint (result.own_annotators[0], ==, p.annotators[0]);
    g_assert_cmpint (result.own_annotators[1], ==, p.annotators[1]);
    assert_model_near (result.annotator_model, report.overall.choice_model);
    assert_model_near (result.own_models, report.annotators[0].choice_model);
    assert_model_near (result.own_models + N_CLASSES * N_CLASSES,
                       report.annotators[1].choice_model);

    /* A round that kept its refined models (as the engine's and train's do, through the same
     * writer) is listed second as the learner's, and shown as it was saved; each annotator the
     * learner has a model of gets that model's entry after their own. */
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autofree char *metrics = NULL;
      g_autofree char *entry = NULL;
      g_autofree char *own = NULL;
      gint64 version;

      json_builder_begin_object (builder);
      veto_train_result_add_annotator_models (&result, N_CLASSES, builder);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      metrics = json_to_string (root, FALSE);
      g_assert_true (veto_store_add_round (veto_engine_get_store (engine), "pixels", "softmax",
                                           8, metrics, 0.1, NULL, &version, &error));
      g_assert_no_error (error);
      veto_dashboard_refresh (dashboard);
      wait_for_dashboard (dashboard);
      entry = g_strdup_printf ("The learner (round %lld)", (long long) version);
      own = g_strdup_printf ("ann, the learner’s (round %lld)", (long long) version);
      g_assert_cmpuint (g_list_model_get_n_items (veto_dashboard_get_annotator_model_choices (
                            dashboard)), ==, 7);
      g_assert_cmpstr (choice (dashboard, 1), ==, entry);
      g_assert_cmpstr (choice (dashboard, 2), ==, "ann (own model)");
      g_assert_cmpstr (choice (dashboard, 3), ==, own);
      g_assert_cmpstr (choice (dashboard, 4), ==, "other (own model)");
      g_assert_cmpstr (choice (dashboard, 6), ==, "few (pooled model)");
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dashboard),
                                                 "dashboard.learner-model", "s", ""));
      assert_model (veto_dashboard_get_annotator_model (dashboard, &k), k,
                    result.annotator_model);
      /* kept across a refresh, like an annotator's */
      veto_dashboard_refresh (dashboard);
      wait_for_dashboard (dashboard);
      assert_model (veto_dashboard_get_annotator_model (dashboard, &k), k,
                    result.annotator_model);
      /* the learner's model of one person, not their anchors' fit (which differs from it) */
      {
        double most = 0.0;

        for (guint i = 0; i < N_CLASSES * N_CLASSES; i++)
          most = MAX (most, fabs (result.own_models[N_CLASSES * N_CLASSES + i]
                                  - report.annotators[1].choice_model[i]));
        g_assert_cmpfloat (most, >, 1e-6);
      }
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dashboard),
                                                 "dashboard.learner-model", "s", "other"));
      assert_model (veto_dashboard_get_annotator_model (dashboard, &k), k,
                    result.own_models + N_CLASSES * N_CLASSES);
      veto_dashboard_refresh (dashboard);
      wait_for_dashboard (dashboard);
      assert_model (veto_dashboard_get_annotator_model (dashboard, &k), k,
                    result.own_models + N_CLASSES * N_CLASSES);
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dashboard),
                                                 "dashboard.annotator-model", "s", "other"));
      assert_model (veto_dashboard_get_annotator_model (dashboard, &k), k,
                    report.annotators[1].choice_model);
      veto_dashboard_refresh (dashboard);
      wait_for_dashboard (dashboard);
      assert_model (veto_dashboard_get_annotator_model (dashboard, &k), k,
                    report.annotators[1].choice_model);
    }
    veto_train_result_clear (&result);
  }

  veto_stats_report_clear (&report);
  gtk_window_destroy (GTK_WINDOW (window));
  veto_engine_shutdown (engine);
}

/* The answers per annotator and their timings, read back as the dashboard reads them. */
static void
test_annotator_stats (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) stats = veto_store_list_annotator_stats (
      veto_engine_get_store (fx.engine), &error);
  guint seen = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < stats->len; i++)
    {
      const VetoAnnotatorStats *s = stats->pdata[i];

      if (g_str_equal (s->name, "alice"))
        {
          g_assert_cmpuint (s->answers, ==, 8);
          g_assert_cmpfloat_with_epsilon (s->mean_seconds, 3.0, 1e-3);
          seen++;
        }
      else if (g_str_equal (s->name, "bob"))
        {
          g_assert_cmpuint (s->answers, ==, 11);
          g_assert_cmpfloat_with_epsilon (s->mean_seconds, 5.0, 1e-3);
          seen++;
        }
      else if (g_str_equal (s->name, "sim"))
        {
          g_assert_cmpuint (s->answers, ==, 1);
          g_assert_true (isnan (s->mean_seconds));
          seen++;
        }
    }
  g_assert_cmpuint (seen, ==, 3);
}

static void
test_gallery_agcd (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoEngineScores) scores = NULL;
  GtkWidget *gallery, *window;
  guint before;
  int cluster = -1;
  guint in_cluster = 0;

  veto_engine_shutdown (fx.engine);
  g_clear_object (&fx.engine);
  fx.engine = start_engine (TRUE);
  scores = veto_engine_get_scores (fx.engine);
  g_assert_nonnull (scores->clusters);
  for (guint i = 0; i < scores->n; i++)
    if (scores->clusters[i] >= 0 && (cluster < 0 || scores->clusters[i] < cluster))
      cluster = scores->clusters[i];
  g_assert_cmpint (cluster, >=, 0);
  for (guint i = 0; i < scores->n; i++)
    in_cluster += scores->clusters[i] == cluster;

  gallery = veto_gallery_new (fx.engine);
  window = show_in_window (gallery, "Gallery");
  /* Naming needs one cluster shown: the action is disabled until then. */
  before = g_list_model_get_n_items (gtk_window_get_toplevels ());
  gtk_widget_activate_action (gallery, "gallery.name-cluster", NULL);
  iterate (100);
  g_assert_cmpuint (g_list_model_get_n_items (gtk_window_get_toplevels ()), ==, before);
  /* Grouped by cluster: the first item is of the lowest cluster. */
  {
    g_autoptr (VetoGalleryItem) first = g_list_model_get_item (
        settled_items (gallery), 0);

    g_assert_cmpint (veto_gallery_item_get_cluster (first), ==, cluster);
  }
  wait_for_thumbnails (VETO_GALLERY (gallery));
  save_screenshot (window, "gallery-agcd-1280x800.png");

  g_assert_true (gtk_widget_activate_action (gallery, "gallery.cluster-filter", "i", cluster));
  g_assert_cmpuint (n_shown (gallery), ==, in_cluster);
  before = g_list_model_get_n_items (gtk_window_get_toplevels ());
  g_assert_true (gtk_widget_activate_action (gallery, "gallery.name-cluster", NULL));
  iterate (300);
  g_assert_cmpuint (g_list_model_get_n_items (gtk_window_get_toplevels ()), ==, before + 1);
  for (guint i = 0; i < g_list_model_get_n_items (gtk_window_get_toplevels ()); i++)
    {
      g_autoptr (GtkWindow) w = g_list_model_get_item (gtk_window_get_toplevels (), i);

      if (ADW_IS_MESSAGE_DIALOG (w))
        save_screenshot (GTK_WIDGET (w), "gallery-name-cluster.png");
    }
  before = veto_engine_get_classes (fx.engine)->len;
  g_assert_true (veto_gallery_name_cluster (VETO_GALLERY (gallery), "  ring ", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (veto_engine_get_classes (fx.engine)->len, ==, before + 1);
  g_assert_cmpstr (((VetoClass *) veto_engine_get_classes (fx.engine)->pdata[before])->name, ==,
                   "ring");
  g_assert_false (veto_gallery_name_cluster (VETO_GALLERY (gallery), " ", &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  wait_for_thumbnails (VETO_GALLERY (gallery));
  save_screenshot (window, "gallery-agcd-cluster-1280x800.png");

  /* An item imported while the gallery is open appears on the next refresh, which reads in a
   * thread; asked for while a reading runs (which may have read before the import), the
   * gallery reads once more after it. */
  g_assert_true (gtk_widget_activate_action (gallery, "gallery.cluster-filter", "i", -1));
  veto_gallery_refresh (VETO_GALLERY (gallery));
  g_assert_true (veto_gallery_get_refreshing (VETO_GALLERY (gallery)));
  fx.missing = add_file_item (veto_engine_get_store (fx.engine), "missing.png");
  veto_gallery_refresh (VETO_GALLERY (gallery));
  g_assert_cmpuint (n_shown (gallery), ==, N_POOL + N_TEST + 1);
  g_assert_false (veto_gallery_get_refreshing (VETO_GALLERY (gallery)));

  for (guint i = g_list_model_get_n_items (gtk_window_get_toplevels ()); i > 0; i--)
    {
      g_autoptr (GtkWindow) w = g_list_model_get_item (gtk_window_get_toplevels (), i - 1);

      gtk_window_destroy (w);
    }
  iterate (100);
}

static void
wait_for_decodes (VetoThumbnailer *thumbnailer)
{
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (veto_thumbnailer_get_n_pending (thumbnailer) > 0 && g_get_monotonic_time () < end)
    iterate (5);
  g_assert_cmpuint (veto_thumbnailer_get_n_pending (thumbnailer), ==, 0);
}

/* The LRU keeps the most recently used; tiny images are enlarged pixel for pixel; an image that
 * cannot be read is cached as NULL. */
static void
test_thumbnailer (void)
{
  g_autoptr (VetoThumbnailer) thumbnailer = veto_thumbnailer_new (fx.path, 3);
  GdkTexture *texture = NULL;
  g_autofree guint8 *pixels = NULL;
  int factor = VETO_THUMBNAILER_SIZE / SIDE, width;

  for (guint i = 0; i < 5; i++)
    {
      veto_thumbnailer_request (thumbnailer, fx.pool[i]);
      wait_for_decodes (thumbnailer);
    }
  g_assert_cmpuint (veto_thumbnailer_get_n_cached (thumbnailer), ==, 3);
  g_assert_false (veto_thumbnailer_lookup (thumbnailer, fx.pool[1], &texture));
  g_assert_true (veto_thumbnailer_lookup (thumbnailer, fx.pool[2], &texture));
  g_assert_true (veto_thumbnailer_lookup (thumbnailer, fx.pool[4], &texture));
  veto_thumbnailer_request (thumbnailer, fx.missing);
  wait_for_decodes (thumbnailer);
  g_assert_cmpuint (veto_thumbnailer_get_n_cached (thumbnailer), ==, 3);
  g_assert_false (veto_thumbnailer_lookup (thumbnailer, fx.pool[3], &texture));
  g_assert_true (veto_thumbnailer_lookup (thumbnailer, fx.missing, &texture));
  g_assert_null (texture);

  /* 20 × 20 enlarged 5 times: every 5 × 5 block is one source pixel. */
  g_assert_true (veto_thumbnailer_lookup (thumbnailer, fx.pool[4], &texture));
  g_assert_nonnull (texture);
  width = gdk_texture_get_width (texture);
  g_assert_cmpint (width, ==, SIDE * factor);
  g_assert_cmpint (gdk_texture_get_height (texture), ==, SIDE * factor);
  pixels = g_malloc ((gsize) width * width * 4);
  gdk_texture_download (texture, pixels, width * 4);
  for (int y = 0; y < width; y++)
    for (int x = 0; x < width; x++)
      {
        const guint8 *p = pixels + (y * width + x) * 4;
        const guint8 *corner = pixels + ((y / factor * factor) * width + x / factor * factor) * 4;

        g_assert_cmpmem (p, 4, corner, 4);
      }

  /* A cancelled request is no longer waited for. */
  veto_thumbnailer_request (thumbnailer, fx.pool[3]);
  veto_thumbnailer_cancel (thumbnailer, fx.pool[3]);
  g_assert_cmpuint (veto_thumbnailer_get_n_pending (thumbnailer), ==, 0);
}

static void
count_ready_thread (VetoThumbnailer *thumbnailer, gint64 item, guint *off_main)
{
  if (g_thread_self () != g_object_get_data (G_OBJECT (thumbnailer), "main-thread"))
    (*off_main)++;
}

/* "ready" reaches the tiles, so it is emitted on the thread that made the thumbnailer even
 * while that thread sleeps between iterations (g_main_context_invoke_full () from a worker
 * ran the delivery on the worker then). */
static void
test_thumbnailer_ready_thread (void)
{
  g_autoptr (VetoThumbnailer) thumbnailer = veto_thumbnailer_new (fx.path, N_POOL);
  guint off_main = 0;

  g_object_set_data (G_OBJECT (thumbnailer), "main-thread", g_thread_self ());
  g_signal_connect (thumbnailer, "ready", G_CALLBACK (count_ready_thread), &off_main);
  for (guint i = 0; i < N_POOL; i++)
    veto_thumbnailer_request (thumbnailer, fx.pool[i]);
  wait_for_decodes (thumbnailer);
  g_assert_cmpuint (veto_thumbnailer_get_n_cached (thumbnailer), ==, N_POOL);
  g_assert_cmpuint (off_main, ==, 0);
}

/* The project and whatever the engine kept beside it. */
static void
remove_dir (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_dir (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int argc, char **argv)
{
  int status;
  g_autoptr (GError) error = NULL;

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  fx.dir = g_dir_make_tmp ("veto-gallery-XXXXXX", &error);
  g_assert_no_error (error);
  fx.shots = g_strdup (g_getenv ("VETO_SCREENSHOT_DIR"));
  if (fx.shots == NULL)
    fx.shots = g_test_build_filename (G_TEST_BUILT, "screenshots", NULL);
  g_mkdir_with_parents (fx.shots, 0755);
  make_project ();
  fx.engine = start_engine (FALSE);

  g_test_add_func ("/gallery/filters", test_gallery_filters);
  g_test_add_func ("/gallery/sort", test_gallery_sort);
  g_test_add_func ("/gallery/gone-while-reading", test_gallery_gone_while_reading);
  g_test_add_func ("/dashboard/transition-and-export", test_dashboard);
  g_test_add_func ("/dashboard/annotators", test_annotator_stats);
  g_test_add_func ("/dashboard/empty", test_dashboard_empty);
  g_test_add_func ("/dashboard/annotator-models", test_dashboard_annotator_models);
  g_test_add_func ("/gallery-agcd/name-cluster", test_gallery_agcd);
  g_test_add_func ("/thumbnailer/lru", test_thumbnailer);
  g_test_add_func ("/thumbnailer/ready-thread", test_thumbnailer_ready_thread);
  status = g_test_run ();

  veto_engine_shutdown (fx.engine);
  g_clear_object (&fx.engine);
  remove_dir (fx.dir);
  g_free (fx.path);
  g_free (fx.shots);
  g_free (fx.dir);
  return status;
}
