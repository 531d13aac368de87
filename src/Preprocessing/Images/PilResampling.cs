namespace BridgeTower.Preprocessing.Images;

/// <summary>Pillow's resampling filters, with Pillow's numbers (what "resample" holds in preprocessor_config.json).</summary>
public enum PilResampling
{
    Nearest = 0,
    Lanczos = 1,
    Bilinear = 2,
    Bicubic = 3,
    Box = 4,
    Hamming = 5,
}
