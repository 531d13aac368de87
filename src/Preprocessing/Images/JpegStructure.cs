using System.Buffers.Binary;

namespace BridgeTower.Preprocessing.Images;

/// <summary>
/// Walks a JPEG's marker segments before any pixel is decoded: the frame header (SOFn) gives the
/// size to check against the limit, APP1 "Exif" the orientation, and every scan's entropy-coded
/// data must end in a marker, the file in EOI. stb_image pads a truncated scan with zeros and
/// returns a half-grey image; Pillow (libjpeg) raises "image file is truncated", so do we.
/// </summary>
internal static class JpegStructure
{
    public static bool Matches(ReadOnlySpan<byte> data) =>
        data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;

    public static ImageHeader Parse(byte[] data, string source, long maxPixels)
    {
        ImageDecodeException Fail(string reason) => new(source, reason);
        int pos = 2;
        int width = 0, height = 0, orientation = 0;
        bool sawFrame = false, sawScan = false;
        while (true)
        {
            // libjpeg skips stray bytes before a marker with a warning; so do we.
            int ff = pos < data.Length ? data.AsSpan(pos).IndexOf((byte)0xFF) : -1;
            if (ff < 0) throw Fail($"truncated JPEG: the file ends at byte {data.Length} before the EOI marker");
            pos += ff;
            while (pos < data.Length && data[pos] == 0xFF) pos++; // fill bytes
            if (pos >= data.Length) throw Fail($"truncated JPEG: the file ends at byte {data.Length} before the EOI marker");
            byte marker = data[pos++];
            if (marker == 0xD9)
            {
                if (!sawFrame || !sawScan) throw Fail("corrupt JPEG: EOI before any frame header or scan");
                return new ImageHeader(ImageFormat.Jpeg, width, height, Math.Max(orientation, 1));
            }
            if (marker is 0x00 or 0x01 or (>= 0xD0 and <= 0xD7)) continue; // no length field
            if (marker == 0xD8) throw Fail($"corrupt JPEG: a second SOI marker at byte {pos - 2}");
            if (data.Length - pos < 2) throw Fail($"truncated JPEG: marker 0x{marker:X2} at byte {pos - 2} has no length");
            int length = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(pos));
            if (length < 2) throw Fail($"corrupt JPEG: marker 0x{marker:X2} at byte {pos - 2} has length {length}");
            if (pos + length > data.Length)
                throw Fail($"truncated JPEG: segment 0x{marker:X2} at byte {pos - 2} needs {length} bytes, {data.Length - pos} remain");
            var body = data.AsSpan(pos + 2, length - 2);
            pos += length;

            if (IsFrameHeader(marker))
            {
                if (sawFrame) throw Fail("corrupt JPEG: a second frame header (SOF)");
                sawFrame = true;
                if (body.Length < 6) throw Fail($"corrupt JPEG: frame header of {body.Length} bytes");
                height = BinaryPrimitives.ReadUInt16BigEndian(body[1..]);
                width = BinaryPrimitives.ReadUInt16BigEndian(body[3..]);
                int components = body[5];
                if (width == 0 || height == 0) throw Fail($"corrupt or unsupported JPEG: frame size {width}x{height} (a height defined later by DNL is not supported)");
                if (components is not (1 or 3 or 4) || body.Length < 6 + 3 * components)
                    throw Fail($"corrupt JPEG: frame header with {components} components in {body.Length} bytes");
                ImageLimits.Check(source, width, height, maxPixels);
                if (marker is not (0xC0 or 0xC1 or 0xC2))
                    throw Fail($"unsupported JPEG coding process SOF{marker - 0xC0} (only baseline, extended and progressive Huffman are decoded)");
                if (body[0] != 8) throw Fail($"unsupported JPEG sample precision {body[0]} bits");
            }
            else if (marker == 0xE1 && orientation == 0 && body.StartsWith("Exif\0\0"u8))
            {
                orientation = ExifOrientation.Read(body[6..]);
            }
            else if (marker == 0xDA)
            {
                if (!sawFrame) throw Fail("corrupt JPEG: a scan (SOS) before the frame header");
                sawScan = true;
                pos = SkipEntropyCodedData(data, pos, Fail);
            }
        }
    }

    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    private static bool IsFrameHeader(byte marker) => marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC);

    /// <summary>Index of the marker that ends the scan starting at <paramref name="pos"/>; a scan cut by the end of the file is truncation.</summary>
    private static int SkipEntropyCodedData(byte[] data, int pos, Func<string, ImageDecodeException> fail)
    {
        while (true)
        {
            int ff = pos < data.Length ? data.AsSpan(pos).IndexOf((byte)0xFF) : -1;
            if (ff < 0 || pos + ff + 1 >= data.Length)
                throw fail($"truncated JPEG: scan data runs to the end of the file ({data.Length} bytes) with no EOI marker");
            int at = pos + ff;
            byte next = data[at + 1];
            if (next == 0x00 || next is >= 0xD0 and <= 0xD7) { pos = at + 2; continue; } // stuffed byte, restart marker
            if (next == 0xFF) { pos = at + 1; continue; } // fill byte before a marker
            return at;
        }
    }
}
