"""Pages as a phone photographs them, built for tests/test_pictures.py and benchmarks/photos.py and
pen_widths.py: digits in a handwriting font on paper, with the things photos of paper have (uneven
light, specks, ruled lines, coloured ink, blur, sensor noise, JPEG). Each page is a PIL RGB image."""

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Handwriting-style fonts that Debian ships (apt-get install fonts-humor-sans fonts-comic-neue fonts-klee).
FONTS = {"Humor Sans": "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
         "Comic Neue Bold": "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf",
         "Klee One SemiBold": "/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf"}
PEN_WIDTHS = (0, 3, 8, 14)  # PIL's stroke_width, in pixels, around a 150 px font
PAGE_SIZE = (360, 480)  # width, height: a page of a notebook, photographed upright
WHITE, OFF_WHITE = (255, 255, 255), (236, 230, 214)
BLACK, PENCIL, BLUE_BALLPOINT = (0, 0, 0), (112, 112, 118), (25, 45, 160)
LIGHT_BLUE, MARGIN_RED, GRID_GREY = (165, 200, 240), (215, 70, 70), (110, 110, 110)
# The page types of issue 18, each with the settings photo_page() takes.
PAGE_TYPES = {
    "black ink on white": {},
    "grey pencil on off-white": {"ink": PENCIL, "paper": OFF_WHITE},
    "blue ballpoint": {"ink": BLUE_BALLPOINT},
    "light-blue ruled lines every 36 px": {"rules": 36},
    "lit from one side (background ~140 to ~250)": {"light": (140, 250)},
    "six dark specks of 3-6 px": {"specks": 6},
    "all at once, blurred, noisy, JPEG 60": {"ink": BLUE_BALLPOINT, "paper": OFF_WHITE, "rules": 36,
                                             "light": (140, 250), "specks": 6, "blur": 1.0, "noise": 6,
                                             "jpeg": 60},
}


def glyph_mask(font_path, text, size, font_size=150, centre=None):
    """Where the ink of `text` in that font (None: PIL's own, which every Pillow has) falls on a
    page of `size` (width, height): a bool array [height, width]; `centre` (x, y) is where the
    text is centred, the page's centre by default."""
    mask = Image.new("L", size, 0)
    centre = centre or (size[0] // 2, size[1] // 2)
    font = ImageFont.truetype(font_path, font_size) if font_path else ImageFont.load_default(font_size)
    ImageDraw.Draw(mask).text(centre, text, font=font, fill=255, anchor="mm")
    return np.asarray(mask) > 127


def speck_places(ink, count, rng, gap=3):
    """`count` (x, y, diameter) specks of 3-6 px, each at least `gap` px from any ink and the page's
    edge, at random on the page."""
    from scipy import ndimage

    far = ndimage.distance_transform_edt(~ink)  # distance of each pixel to the nearest ink
    places = []
    while len(places) < count:
        diameter = int(rng.integers(3, 7))
        x, y = int(rng.integers(10, ink.shape[1] - 10)), int(rng.integers(10, ink.shape[0] - 10))
        if far[y, x] >= gap + diameter:
            places.append((x, y, diameter))
    return places


def photo_page(font_path, text, ink=BLACK, paper=WHITE, rules=None, grid=None, margin=False, light=None,
               specks=0, blur=0.0, noise=0.0, jpeg=None, seed=0, size=PAGE_SIZE, font_size=150):
    """A photo of `text` written on a page (PIL RGB, `size`): `rules` every that many px (light
    blue, 2 px), or a `grid` of squares that many px wide (dark grey, 2 px); a red margin line;
    `light` (darkest, brightest): lit from the right, white paper's brightness going from the first
    to the second (0-255) across; `specks` dark specks of 3-6 px; then a Gaussian blur of `blur`
    px, sensor noise of that standard deviation (0-255), and JPEG at that quality."""
    rng = np.random.default_rng(seed)
    height, width = size[1], size[0]
    page = np.empty((height, width, 3))
    page[:] = paper
    if rules:
        for y in range(rules, height, rules):
            page[y: y + 2] = LIGHT_BLUE
    if grid:
        for place in range(grid, max(height, width), grid):
            page[place: place + 2] = GRID_GREY
            page[:, place: place + 2] = GRID_GREY
    if margin:
        page[:, 60:63] = MARGIN_RED
    letters = glyph_mask(font_path, text, size, font_size)
    page[letters] = ink
    for x, y, diameter in speck_places(letters, specks, rng):
        rows, columns = np.ogrid[:height, :width]
        page[(rows - y) ** 2 + (columns - x) ** 2 <= (diameter / 2) ** 2] = (40, 35, 30)
    if light:  # reflected light: the page's colours times the light falling on it
        page = page * np.linspace(light[0] / 255, light[1] / 255, width)[None, :, None]
    picture = Image.fromarray(page.clip(0, 255).astype(np.uint8))
    if blur:
        picture = picture.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        noisy = np.asarray(picture, dtype=float) + rng.normal(0, noise, (height, width, 3))
        picture = Image.fromarray(noisy.clip(0, 255).astype(np.uint8))
    if jpeg:
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=jpeg)
        picture = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return picture


def font_digit(font_path, digit, stroke_width):
    """A digit as a user might write it with a pen of some width: the font's glyph at a 150 px size,
    outlined by stroke_width pixels, black, centred on a 300x300 white page (a PIL image)."""
    page = Image.new("L", (300, 300), 255)
    ImageDraw.Draw(page).text((150, 150), str(digit), font=ImageFont.truetype(font_path, 150), fill=0,
                              anchor="mm", stroke_width=stroke_width, stroke_fill=0)
    return page
