import DiffEqCore

/// How the IVP test set runs a problem: its tolerance sweep for the work-precision diagrams,
/// the absolute tolerance it pairs with each relative tolerance, and which components its `scd`
/// counts.
///
/// The test set never prescribes one tolerance; for every problem it sweeps
/// `reltol = 10^-(reltolExponentOffset + m/4)`, `m = 0...reltolSteps`, and sets
/// `abstol = abstolPerReltol · reltol` (and `h0 = initialStepPerReltol · reltol` for the solvers
/// that take an initial step). Benchmarks that want to be comparable with the published
/// diagrams use ``workPrecisionReltols`` and ``testSetAbstol(reltol:)``:
///
/// ```swift
/// let info = TestProblems.hiresInfo
/// for rtol in info.workPrecisionReltols {
///     let sol = try solve(TestProblems.hires(), alg, reltol: rtol, abstol: .scalar(info.testSetAbstol(reltol: rtol)))
///     let digits = TestProblems.hiresReference.significantCorrectDigits(of: sol.u.last!, components: info.scdComponents)
/// }
/// ```
///
/// Reference: F. Mazzia and C. Magherini, Test Set for Initial Value Problem Solvers,
/// release 2.4, Report 4/2008, University of Bari, §4 ("Numerical solution of the problem") of
/// each problem description.
public struct TestProblemInfo: Sendable {
    /// The test set's name of the problem (`"HIRES"`, `"PLEI"`, ...).
    public let name: String
    /// Whether the test set classes the problem as stiff.
    public let isStiff: Bool
    /// `a` in `reltol = 10^-(a + m/4)`.
    public let reltolExponentOffset: Double
    /// The last `m` of the sweep (`m = 0...reltolSteps`).
    public let reltolSteps: Int
    /// `abstol = abstolPerReltol · reltol` in the test set's runs (unless ``fixedAbstol`` is set).
    public let abstolPerReltol: Double
    /// An absolute tolerance that does not scale with `reltol` (`nil`: `abstolPerReltol · reltol`).
    /// E5's components fall to 1e-22 and below, so an abstol proportional to `reltol` would
    /// accept an answer without a single correct digit; it is judged at a fixed 1e-24. Where it
    /// is set, `abstolPerReltol` is 0: read the tolerance through ``testSetAbstol(reltol:)``.
    public let fixedAbstol: Double?
    /// `h0 = initialStepPerReltol · reltol` for the test set's solvers that take an initial step.
    public let initialStepPerReltol: Double
    /// The components the test set's `scd` is computed over (`nil`: all of them).
    public let scdComponents: Range<Int>?
    /// Section of the test-set report these settings come from.
    public let source: String

    public init(
        name: String, isStiff: Bool, reltolExponentOffset: Double, reltolSteps: Int, abstolPerReltol: Double,
        initialStepPerReltol: Double, scdComponents: Range<Int>? = nil, fixedAbstol: Double? = nil, source: String
    ) {
        self.name = name
        self.isStiff = isStiff
        self.reltolExponentOffset = reltolExponentOffset
        self.reltolSteps = reltolSteps
        self.abstolPerReltol = abstolPerReltol
        self.initialStepPerReltol = initialStepPerReltol
        self.scdComponents = scdComponents
        self.fixedAbstol = fixedAbstol
        self.source = source
    }

    /// The relative tolerances of the test set's work-precision diagrams, loosest first.
    public var workPrecisionReltols: [Double] {
        (0...reltolSteps).map { m in pow(10.0, -(reltolExponentOffset + Double(m) / 4)) }
    }

    /// The absolute tolerance the test set uses together with `reltol` (``fixedAbstol`` when set).
    public func testSetAbstol(reltol: Double) -> Double { fixedAbstol ?? abstolPerReltol * reltol }
}

/// The stiff problems of the IVP test set in this library, each with its published reference and
/// the test set's tolerance settings: what stiff-solver tests and benchmarks iterate over.
///
/// The first five have the test set's own tolerance sweeps (§4 of each problem description).
/// ``e5`` (stiff DETEST E5, the test set's e5.f) and ``vdpolm`` (the unscaled van der Pol
/// oscillator, vdpolm.f) come with the test set's published reference solutions but without a
/// sweep of their own in the report; their ``info`` says which settings this library uses and
/// where they come from. ``fiveWithPublishedSweeps`` lists the first five.
public enum StiffTestSet: String, CaseIterable, Sendable, CustomStringConvertible {
    case rober = "ROBER"
    case hires = "HIRES"
    case pollu = "POLLU"
    case orego = "OREGO"
    case vdpol = "VDPOL"
    /// E5 of the stiff DETEST set over `[0, 1e13]`, judged at a fixed abstol of 1e-24.
    case e5 = "E5"
    /// The unscaled van der Pol oscillator (`μ = 1000`, `t ∈ [0, 2000]`, one relaxation jump).
    case vdpolm = "VDPOLM"

    /// ROBER, HIRES, POLLU, OREGO and VDPOL: the problems whose tolerance sweeps the test-set
    /// report publishes (what the work-precision benchmarks compare with other codes on).
    public static let fiveWithPublishedSweeps: [StiffTestSet] = [.rober, .hires, .pollu, .orego, .vdpol]

    public var description: String { rawValue }

    /// The published reference solution at the end of the span.
    public var reference: ReferenceSolution { published.reference }

    /// The test set's tolerance settings.
    public var info: TestProblemInfo { published.info }

    /// What the test set publishes for this problem: its reference solution and its settings.
    private var published: (reference: ReferenceSolution, info: TestProblemInfo) {
        switch self {
        case .rober: return (TestProblems.roberReference, TestProblems.roberInfo)
        case .hires: return (TestProblems.hiresReference, TestProblems.hiresInfo)
        case .pollu: return (TestProblems.pollutionReference, TestProblems.pollutionInfo)
        case .orego: return (TestProblems.oregoReference, TestProblems.oregoInfo)
        case .vdpol: return (TestProblems.vanDerPolReference, TestProblems.vanDerPolInfo)
        case .e5: return (TestProblems.detestE5Reference, TestProblems.detestE5Info)
        case .vdpolm: return (TestProblems.unscaledVanDerPolReference, TestProblems.unscaledVanDerPolInfo)
        }
    }
}
