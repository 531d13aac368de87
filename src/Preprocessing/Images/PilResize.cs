namespace BridgeTower.Preprocessing.Images;

/// <summary>
/// Pillow 9.4's Image.resize on an 8-bit RGB image (libImaging/Resample.c, reducing_gap=None),
/// reproduced bit for bit: separable convolution whose kernel is widened by the scale when
/// shrinking, weights normalised in double then rounded to 22-bit fixed point, the horizontal pass
/// first into a rounded and clipped 8-bit intermediate, then the vertical pass; a pass whose size
/// does not change is skipped. NEAREST follows Pillow's affine nearest-neighbour path.
/// </summary>
public static class PilResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    public static RgbImage Resize(RgbImage source, int width, int height, PilResampling resample = PilResampling.Bicubic)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"cannot resize {source.Width}x{source.Height} to {width}x{height}: height and width must be > 0");
        if ((long)width * height * 3 > Array.MaxLength)
            throw new ArgumentException($"cannot resize to {width}x{height}: too large for one RGB array");
        if (width == source.Width && height == source.Height)
            return new RgbImage(width, height, (byte[])source.Pixels.Clone());
        if (resample == PilResampling.Nearest) return Nearest(source, width, height);

        var (filter, support) = Filter(resample);
        bool needHorizontal = width != source.Width, needVertical = height != source.Height;
        var horizontal = Coefficients.Compute(source.Width, width, filter, support);
        var vertical = Coefficients.Compute(source.Height, height, filter, support);

        byte[] pixels = source.Pixels;
        int rows = source.Height;
        if (needHorizontal)
        {
            // Like Pillow, only the source rows the vertical pass reads go through the horizontal pass.
            int first = 0, last = source.Height;
            if (needVertical)
            {
                first = vertical.Bounds[0];
                last = vertical.Bounds[2 * (height - 1)] + vertical.Bounds[2 * (height - 1) + 1];
                for (int i = 0; i < height; i++) vertical.Bounds[2 * i] -= first;
            }
            pixels = Horizontal(pixels, source.Width, first, last - first, width, horizontal);
            rows = last - first;
        }
        if (needVertical) pixels = Vertical(pixels, width, rows, height, vertical);
        return new RgbImage(width, height, pixels);
    }

    private static (Func<double, double> Filter, double Support) Filter(PilResampling resample) => resample switch
    {
        PilResampling.Box => (x => x > -0.5 && x <= 0.5 ? 1.0 : 0.0, 0.5),
        PilResampling.Bilinear => (x => { x = Math.Abs(x); return x < 1.0 ? 1.0 - x : 0.0; }, 1.0),
        PilResampling.Hamming => (Hamming, 1.0),
        PilResampling.Bicubic => (Bicubic, 2.0),
        PilResampling.Lanczos => (x => -3.0 <= x && x < 3.0 ? Sinc(x) * Sinc(x / 3) : 0.0, 3.0),
        _ => throw new ArgumentOutOfRangeException(nameof(resample), resample, "unknown Pillow resampling filter (0..5)"),
    };

    // Keys' cubic convolution with a = -0.5, written in Pillow's operation order.
    private static double Bicubic(double x)
    {
        const double a = -0.5;
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    private static double Hamming(double x)
    {
        if (x < 0.0) x = -x;
        if (x == 0.0) return 1.0;
        if (x >= 1.0) return 0.0;
        x *= Math.PI;
        return Math.Sin(x) / x * (0.54 + 0.46 * Math.Cos(x));
    }

    private static double Sinc(double x)
    {
        if (x == 0.0) return 1.0;
        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    /// <summary>Per output sample: first input index, tap count and KernelSize fixed-point weights.</summary>
    private sealed class Coefficients
    {
        public required int[] Bounds;
        public required int[] Weights;
        public required int KernelSize;

        // Pillow's precompute_coeffs + normalize_coeffs_8bpc.
        public static Coefficients Compute(int inSize, int outSize, Func<double, double> filter, double filterSupport)
        {
            double scale = (double)inSize / outSize;
            double filterScale = Math.Max(scale, 1.0);
            double support = filterSupport * filterScale;
            int kernelSize = (int)Math.Ceiling(support) * 2 + 1;
            var bounds = new int[outSize * 2];
            var weights = new int[checked(outSize * kernelSize)];
            var k = new double[kernelSize];
            double inverse = 1.0 / filterScale;
            for (int xx = 0; xx < outSize; xx++)
            {
                double center = (xx + 0.5) * scale;
                int xmin = Math.Max((int)(center - support + 0.5), 0);
                int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
                double sum = 0.0;
                for (int x = 0; x < xmax; x++)
                {
                    double w = filter((x + xmin - center + 0.5) * inverse);
                    k[x] = w;
                    sum += w;
                }
                for (int x = 0; x < xmax; x++)
                {
                    double w = sum != 0.0 ? k[x] / sum : k[x];
                    // C's (int) truncates: adding +-0.5 first rounds half away from zero.
                    weights[xx * kernelSize + x] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
                }
                bounds[2 * xx] = xmin;
                bounds[2 * xx + 1] = xmax;
            }
            return new Coefficients { Bounds = bounds, Weights = weights, KernelSize = kernelSize };
        }
    }

    private static byte Clip8(int v) =>
        v >= 1 << PrecisionBits << 8 ? (byte)255 : v <= 0 ? (byte)0 : (byte)(v >> PrecisionBits);

    private static byte[] Horizontal(byte[] src, int inWidth, int firstRow, int rows, int outWidth, Coefficients c)
    {
        var dst = new byte[(long)rows * outWidth * 3];
        int[] bounds = c.Bounds, weights = c.Weights;
        for (int y = 0; y < rows; y++)
        {
            int srcRow = (firstRow + y) * inWidth * 3, dstRow = y * outWidth * 3;
            for (int xx = 0; xx < outWidth; xx++)
            {
                int xmin = bounds[2 * xx], n = bounds[2 * xx + 1], k = xx * c.KernelSize;
                int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                int p = srcRow + xmin * 3;
                for (int x = 0; x < n; x++, p += 3)
                {
                    int w = weights[k + x];
                    s0 += src[p] * w;
                    s1 += src[p + 1] * w;
                    s2 += src[p + 2] * w;
                }
                int d = dstRow + xx * 3;
                dst[d] = Clip8(s0);
                dst[d + 1] = Clip8(s1);
                dst[d + 2] = Clip8(s2);
            }
        }
        return dst;
    }

    private static byte[] Vertical(byte[] src, int width, int inRows, int outHeight, Coefficients c)
    {
        int rowBytes = width * 3;
        var dst = new byte[(long)outHeight * rowBytes];
        var acc = new int[rowBytes];
        int[] bounds = c.Bounds, weights = c.Weights;
        for (int yy = 0; yy < outHeight; yy++)
        {
            int ymin = bounds[2 * yy], n = bounds[2 * yy + 1], k = yy * c.KernelSize;
            if (ymin < 0 || ymin + n > inRows) throw new InvalidOperationException("resample bounds outside the intermediate image");
            Array.Fill(acc, 1 << (PrecisionBits - 1));
            // Integer sums are exact, so accumulating row by row gives Pillow's per-pixel result.
            for (int y = 0; y < n; y++)
            {
                int w = weights[k + y];
                var row = src.AsSpan((ymin + y) * rowBytes, rowBytes);
                for (int i = 0; i < rowBytes; i++) acc[i] += row[i] * w;
            }
            var outRow = dst.AsSpan(yy * rowBytes, rowBytes);
            for (int i = 0; i < rowBytes; i++) outRow[i] = Clip8(acc[i]);
        }
        return dst;
    }

    // Pillow resizes with NEAREST through ImagingScaleAffine: the source coordinate starts at
    // half a step and grows by repeated addition, then truncates.
    private static RgbImage Nearest(RgbImage source, int width, int height)
    {
        var xs = NearestIndices(source.Width, width);
        var ys = NearestIndices(source.Height, height);
        var dst = new byte[(long)width * height * 3];
        for (int y = 0; y < height; y++)
        {
            int srcRow = ys[y] * source.Width * 3, dstRow = y * width * 3;
            for (int x = 0; x < width; x++)
            {
                int s = srcRow + xs[x] * 3, d = dstRow + x * 3;
                dst[d] = source.Pixels[s];
                dst[d + 1] = source.Pixels[s + 1];
                dst[d + 2] = source.Pixels[s + 2];
            }
        }
        return new RgbImage(width, height, dst);
    }

    private static int[] NearestIndices(int inSize, int outSize)
    {
        double step = (double)inSize / outSize, at = step * 0.5;
        var index = new int[outSize];
        for (int i = 0; i < outSize; i++, at += step) index[i] = Math.Clamp((int)at, 0, inSize - 1);
        return index;
    }
}
