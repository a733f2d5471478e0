// Sensor saddle for the smart dowel: one per FSR (print 3), plus one puck per FSR.
//
// The saddle clips onto the PVC dowel (it wraps a little more than half way round), is locked
// by a 20 mm velcro strap round each end, and slides along the dowel when the straps are
// loosened: that is how the pads follow the patient's height. Its flat top holds an FSR 402 in a shallow recess, with a channel
// for the FSR's tail. The puck goes on the FSR's active area, under the foam disc: the FSR
// integration guide advises loading the active area through a rigid actuator slightly smaller
// than it, so the reading depends on force, not on where the foam happens to press.
//
// Print: PETG (or PLA), 0.2 mm layers, 3 walls, 20 % infill, the saddle standing on one end
// (dowel axis vertical): every layer is the same C-shaped section, so no supports. Set dowel_od
// to your dowel (25-34 mm) before exporting the STL: openscad -o saddle.stl fsr_saddle.scad

dowel_od    = 26.7;   // mm: 3/4-inch Sch 40 PVC; 1-inch dowel 25.4; 25 mm conduit 25.0
clearance   = 0.6;    // mm: slides when the strap is loose, grips when tight
length      = 70;     // mm along the dowel: a strap groove each side of the pad
wall        = 2.4;
wrap_deg    = 200;    // how far the saddle wraps around the dowel (>180 clips on)
pad_d       = 19.0;   // FSR 402 round head is 18.28 mm
pad_depth   = 0.6;    // the FSR is 0.45 mm thick: it sits flush under the puck
tail_w      = 7.5;    // FSR 402 tail width is ~7 mm
strap_w     = 21;     // for 20 mm velcro
top_h       = 5;      // thickness of the flat top above the dowel's surface
puck_d      = 10;     // smaller than the 12.7 mm active area
puck_h      = 2;

$fn = 96;
r_in  = dowel_od / 2 + clearance / 2;
r_out = r_in + wall;

module saddle() {
    difference() {
        union() {
            // the clip around the dowel, centred on the top (+Z), open underneath
            rotate([0, 90, 0])
                translate([0, 0, -length / 2])
                    rotate([0, 0, 180 - wrap_deg / 2])
                        rotate_extrude(angle = wrap_deg)
                            translate([r_in, 0]) square([wall, length]);
            // flat top that carries the FSR
            translate([-length / 2, -pad_d / 2 - 3, r_in - 1])
                cube([length, pad_d + 6, top_h + 1]);
        }
        // the dowel
        rotate([0, 90, 0]) cylinder(r = r_in, h = 2 * length, center = true);
        // FSR head recess and tail channel (the tail runs along the dowel to the wires)
        translate([0, 0, r_in + top_h - pad_depth]) cylinder(d = pad_d, h = 5);
        translate([0, -tail_w / 2, r_in + top_h - pad_depth]) cube([length, tail_w, 5]);
        // a shallow groove at each end keeps the strap off the pad
        for (x = [-length / 2 - 1, length / 2 - strap_w + 1])
            translate([x, -pad_d, r_in + top_h - 1]) cube([strap_w, 2 * pad_d, 2]);
    }
}

module puck() {
    cylinder(d = puck_d, h = puck_h);
}

// Which part to export, in its printing position.
part = "saddle";  // "saddle" or "puck"
if (part == "saddle")
    translate([0, 0, length / 2]) rotate([0, 90, 0]) saddle();
else
    puck();
