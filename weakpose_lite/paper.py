"""The paper's reported numbers (Rochette et al., BMVC 2019), for printing beside ours; always labelled as the paper's.

Table 3 lists every COCO-18 joint but the neck (the root); its means over those 17 joints give Table 2.
"""

TABLE_2_MPJPE_MM = {
    "body": {"strong": 71.013, "weak": 71.019},
    "body_hands": {"strong": 84.115, "weak": 87.015},
}

TABLE_3_MPJPE_MM = {  # body models, per joint, mm
    "nose": (28.57, 29.02),
    "right_shoulder": (18.80, 19.20),
    "right_elbow": (59.52, 57.60),
    "right_wrist": (85.40, 84.01),
    "left_shoulder": (18.96, 19.30),
    "left_elbow": (57.60, 55.10),
    "left_wrist": (85.19, 82.82),
    "right_hip": (40.31, 40.82),
    "right_knee": (60.95, 61.95),
    "right_ankle": (105.88, 105.87),
    "left_hip": (38.90, 38.64),
    "left_knee": (60.68, 61.49),
    "left_ankle": (97.67, 100.15),
    "right_eye": (57.45, 59.02),
    "left_eye": (77.59, 77.46),
    "right_ear": (153.20, 154.08),
    "left_ear": (160.55, 160.80),
}

TABLE_1_PANOPTIC = {  # frames, views, individuals per split
    "train": (220553, "18-31", 40),
    "validation": (27575, "31", 6),
    "test": (25366, "31", 6),
}
